"""Entry point for ``python -m genlib``."""
import sys

from .cli import main

sys.exit(main())
