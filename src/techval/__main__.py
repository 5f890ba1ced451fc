"""`python -m techval`: the `techval` command."""

import sys

from techval.cli import main

if __name__ == "__main__":  # importing it (a walk of the package) runs nothing
    sys.exit(main())
