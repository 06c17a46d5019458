"""``python -m credits_core`` → the CLI."""

import sys

from .cli import main

sys.exit(main())
