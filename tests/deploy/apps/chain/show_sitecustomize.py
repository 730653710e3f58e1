# Which sitecustomize modules ran, as the process sees them after start-up.
import sys

import sitecustomize

print("sys.modules['sitecustomize'] is", sitecustomize.__file__)
walguard = sys.modules.get("_walguard_sitecustomize")
print("walguard's ran:", walguard is not None, "and ran", walguard.shadowed if walguard else None)
