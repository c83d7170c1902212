"""``python -m medcalc.cli``: the ``medcalc`` command, as the console script runs it."""

import sys

from . import main

sys.exit(main())
