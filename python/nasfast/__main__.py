"""``python -m nasfast``: the same as the ``nasfast`` command."""

import sys

from nasfast.cli import main

sys.exit(main())
