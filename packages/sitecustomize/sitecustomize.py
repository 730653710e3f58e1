"""walguard for every Python process that has this directory on its path.

Python imports ``sitecustomize`` at start-up, so a service started with
``PYTHONPATH=/usr/local/share/walguard/python`` has walguard loaded into the standard
library's SQLite before its own code runs: every connection it opens is guarded, with no
change to the code. (In site-packages this file runs only where no other sitecustomize
comes earlier on sys.path: never in Debian's python3 or a venv of it, whose standard library
has one.)

The library is ``$WALGUARD_LIB``, or ``libwalguard.so`` in ``../../../lib`` (where
``make install`` puts both). ``WALGUARD_APSW=1`` also loads it into APSW's bundled SQLite
(from a private copy of the library when the standard library's SQLite already has it: one
copy serves one SQLite). A process whose ``sqlite3`` cannot load extensions gets a warning
on stderr, not a failure, and APSW is still tried.

Python imports only the first ``sitecustomize`` on ``sys.path``, so this file shadows the
one the interpreter or a virtual environment ships (Debian's
``/usr/lib/python3.X/sitecustomize.py``, the apport hook; one in a venv's site-packages).
After loading walguard it runs that one: the next ``sitecustomize`` along ``sys.path``
after the entry this file was found in, skipping other copies of this file, once. That
module then stands in ``sys.modules["sitecustomize"]`` as it would without walguard (this
one stays as ``sys.modules["_walguard_sitecustomize"]``, and its ``shadowed`` attribute
is the path it ran, or None). If it raises, the error goes to stderr and walguard stays
loaded. If this file is run again in the same process (a sitecustomize that chains back
to it), it does nothing.
"""
import os
import sys

_MARKER = "walguard-sitecustomize-chains"  # in every copy of this file: never chain to one
shadowed = None


def _walguard_library():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("WALGUARD_LIB") or os.path.normpath(os.path.join(here, "..", "..", "..", "lib", "libwalguard.so"))


def _private_copy(library):
    """The library's bytes in a memfd: a distinct object, with its own state. One copy of
    walguard serves one SQLite library per process, and APSW bundles its own SQLite."""
    fd = os.memfd_create("walguard")
    with open(library, "rb") as source:
        data = memoryview(source.read())
    while data:
        data = data[os.write(fd, data):]
    return f"/proc/self/fd/{fd}"  # the descriptor stays open for the life of the process


def _load_walguard():
    library = _walguard_library()
    stdlib_loaded = False
    try:
        import sqlite3

        conn = sqlite3.connect(":memory:")
        if not hasattr(conn, "enable_load_extension"):
            raise RuntimeError("this Python's sqlite3 module cannot load extensions")
        conn.enable_load_extension(True)
        conn.load_extension(library)
        conn.close()
        stdlib_loaded = True
    except Exception as error:  # never keep the service from starting
        print(f"walguard sitecustomize: SQLite is NOT guarded: {error}", file=sys.stderr)
    if os.environ.get("WALGUARD_APSW") == "1":
        try:
            import apsw

            loader = apsw.Connection(":memory:")
            loader.enable_load_extension(True)
            if stdlib_loaded:  # that copy belongs to the standard library's SQLite
                loader.load_extension(_private_copy(library), "sqlite3_walguard_init")
            else:
                loader.load_extension(library)
            loader.close()
        except Exception as error:
            print(f"walguard sitecustomize: APSW's SQLite is NOT guarded: {error}", file=sys.stderr)


def _is_walguard_copy(origin):
    if os.path.realpath(origin) == os.path.realpath(__file__):
        return True
    try:
        with open(origin, "rb") as source:
            return _MARKER.encode() in source.read()
    except OSError:  # not a readable file (a zip archive's member, say): not a copy of this one
        return False


def _shadowed_spec():
    """The spec of the sitecustomize that Python would have imported without this file: the
    first one along sys.path after the entry holding this file, other copies of it skipped."""
    from importlib.machinery import PathFinder

    after_self = False
    for entry in list(sys.path):
        try:
            spec = PathFinder.find_spec("sitecustomize", [entry])
        except (ImportError, OSError, ValueError):
            continue
        # A directory named sitecustomize without __init__.py (a namespace portion) runs no code.
        if spec is None or spec.loader is None or spec.origin is None:
            continue
        if _is_walguard_copy(spec.origin):
            after_self = True
            continue
        if after_self:
            return spec
    return None


def _run_shadowed(this):
    import importlib.util

    spec = _shadowed_spec()
    if spec is None:
        return
    this.shadowed = spec.origin
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get("sitecustomize")
    sys.modules["sitecustomize"] = module  # as the import system does while a module runs
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # as site.py does for its own sitecustomize: report, go on
        if previous is None:
            sys.modules.pop("sitecustomize", None)
        else:
            sys.modules["sitecustomize"] = previous
        print(f"walguard sitecustomize: error in {spec.origin}, the sitecustomize this one shadows "
              f"(walguard is not affected): {type(error).__name__}: {error}", file=sys.stderr)
        if sys.flags.verbose:
            import traceback

            traceback.print_exc()


def _this_module():
    module = sys.modules.get(__name__)
    if module is None or vars(module) is not globals():  # run by exec() or runpy, not imported
        import types

        module = types.ModuleType("_walguard_sitecustomize")
        module.shadowed = None
    return module


if "_walguard_sitecustomize" not in sys.modules:
    _this = sys.modules["_walguard_sitecustomize"] = _this_module()
    _load_walguard()
    _run_shadowed(_this)
