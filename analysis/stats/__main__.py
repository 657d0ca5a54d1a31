"""``python -m analysis.stats`` entry point."""

import sys

from .cli import main

sys.exit(main())
