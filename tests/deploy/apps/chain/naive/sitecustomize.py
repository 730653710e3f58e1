# An application's sitecustomize that chains naively: it runs the first other sitecustomize
# on sys.path, whatever its position, which here is walguard's. walguard's chains back to
# this one; without its guard against running twice, the two would recurse forever.
import os
import sys

print("the application's sitecustomize ran", file=sys.stderr)
here = os.path.realpath(__file__)
for entry in sys.path:
    candidate = os.path.join(entry or ".", "sitecustomize.py")
    if os.path.isfile(candidate) and os.path.realpath(candidate) != here:
        with open(candidate) as source:
            exec(compile(source.read(), candidate, "exec"), {"__name__": "chained_sitecustomize", "__file__": candidate})
        break
