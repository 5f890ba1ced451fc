"""`python -m techval`: the `techval` command."""

import sys

from techval.cli import main

sys.exit(main())
