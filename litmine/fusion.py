"""Old import path of :mod:`litmine.search.fusion` (moved there in issue 13).

The old name is an alias of the new module (same object), so attribute lookups
and monkeypatches reach the code that runs.
"""

import sys

from litmine.search.fusion import *  # noqa: F403
from litmine.search.fusion import __all__ as __all__

sys.modules[__name__] = sys.modules["litmine.search.fusion"]
