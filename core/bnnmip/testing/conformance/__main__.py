"""``python -m bnnmip.testing.conformance BACKEND_NAME``: the conformance suite on an installed backend."""

import sys

from . import main

sys.exit(main())
