"""``python -m hambox_core.evaluation``: the ``hambox-eval`` command line."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
