# The sitecustomize a virtual environment ships in its site-packages. With CHAIN_RAISE=1 it
# raises after its line, as a broken one would.
import os
import sys

print("the venv's sitecustomize ran", file=sys.stderr)
if os.environ.get("CHAIN_RAISE") == "1":
    raise RuntimeError("the venv's sitecustomize failed")
