"""Old import path of :mod:`litmine.cli.answer` (moved there in issue 13).

The old name is an alias of the new module (same object), so attribute lookups
and monkeypatches reach the code that runs.
"""

import sys

from litmine.cli.answer import *  # noqa: F403
from litmine.cli.answer import __all__ as __all__

sys.modules[__name__] = sys.modules["litmine.cli.answer"]
