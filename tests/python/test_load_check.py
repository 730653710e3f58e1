"""The one-line check docs/python.md gives users: can this Python's sqlite3 load extensions?

    python3 -c "import sqlite3; sqlite3.connect(':memory:').enable_load_extension(True)"

It must answer as documented on the interpreters of this machine: Debian's /usr/bin/python3
prints nothing and exits 0; a pyenv build (the python3 first on PATH here, and every other
pyenv version installed) fails with an AttributeError. For each, the answer must agree with
how the interpreter was configured (--enable-loadable-sqlite-extensions), and where it says
yes, walguard must actually load.
"""
import glob
import os
import shutil
import subprocess
import sys
import unittest

ONE_LINER = "import sqlite3; sqlite3.connect(':memory:').enable_load_extension(True)"
NO = "AttributeError: 'sqlite3.Connection' object has no attribute 'enable_load_extension'"
LIB = os.environ.get(
    "WALGUARD_LIB",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "libwalguard"),
)


def check(python):
    done = subprocess.run([python, "-c", ONE_LINER], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def configured_with_extensions(python):
    args = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_config_var('CONFIG_ARGS'))"],
                          capture_output=True, text=True, check=True).stdout
    return "--enable-loadable-sqlite-extensions" in args


def real_executable(python):
    """What a pyenv shim runs in the end."""
    return subprocess.run([python, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True,
                          check=True).stdout.strip()


class OneLineCheck(unittest.TestCase):
    def assertAnswers(self, python, can_load):
        code, out, err = check(python)
        self.assertEqual(configured_with_extensions(python), can_load, python)
        if can_load:
            self.assertEqual((code, out, err), (0, "", ""), python)
            program = (f"import sqlite3; c = sqlite3.connect(':memory:'); c.enable_load_extension(True); "
                       f"c.load_extension({LIB!r}); print(c.execute('SELECT walguard_version() IS NOT NULL').fetchone()[0])")
            loaded = subprocess.run([python, "-c", program], capture_output=True, text=True)
            self.assertEqual((loaded.returncode, loaded.stdout), (0, "1\n"), loaded.stderr)
        else:
            self.assertEqual(code, 1, python)
            self.assertEqual(out, "", python)
            self.assertEqual(err.strip().splitlines()[-1], NO, python)

    def test_debian_python3_can_load_extensions(self):
        self.assertAnswers("/usr/bin/python3", can_load=True)

    def test_python3_first_on_path(self):
        first = shutil.which("python3")
        executable = real_executable(first)
        if os.path.realpath(executable) == os.path.realpath("/usr/bin/python3"):
            self.skipTest(f"python3 first on PATH is Debian's ({first})")
        pyenv = "/.pyenv/versions/" in executable
        # Whatever it is, the check must agree with its build; a pyenv build says no.
        can_load = configured_with_extensions(first)
        if pyenv:
            self.assertFalse(can_load, f"{executable}: a pyenv build configured with extension loading")
        self.assertAnswers(first, can_load)

    def test_every_pyenv_python3_says_no(self):
        root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
        pythons = sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3")))
        if not pythons:
            self.skipTest(f"no pyenv versions under {root}")
        for python in pythons:
            with self.subTest(python=python):
                self.assertAnswers(python, can_load=False)


if __name__ == "__main__":
    unittest.main()
