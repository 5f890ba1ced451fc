"""`python -m techval.cli`: the `techval` command."""

import sys

from techval.cli import main

sys.exit(main())
