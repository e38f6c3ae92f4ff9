"""``python -m hambox_torch.cli``: the ``hambox`` command."""

import sys

from hambox_torch.cli import main

sys.exit(main())
