"""The claim checks of a batch, as the engine's kernels are handed to numba: ``medcalc.claim_checks``.

The checks are written once, in the claims layer (a ``Claim`` calls the same ``check_row`` as it is
made); this module holds the same names so that ``compiled.kernel_functions(engine, checks)``
compiles them with every global they read (the codes, NOT_GIVEN, MAX_TOTAL …).
"""

from __future__ import annotations

from ..claim_checks import *  # noqa: F403 - every name the functions read: numba compiles them with these globals
from ..claim_checks import __all__  # noqa: F401 - the same names, the same public ones
