"""techval: conformance harness for the Redox onramp to Carequality."""

from __future__ import annotations

import sys

__version__ = "0.1.0"

__all__ = ["__version__"]

# httpx's command line, an optional extra techval never uses, kept from loading in its
# processes (this package is imported first): it brings click, rich and Pygments wherever they
# are installed (a development tool installs them: ~30 ms a process). A None entry in
# sys.modules makes its import raise ImportError, which httpx catches to go without it
# (thirdparty.missing() checks that it still does). Nothing else imports httpx._main.
UNUSED_EXTRAS = {"httpx._main": ("httpx", "httpx")}  # each: (its package, what imports it)
for _extra in UNUSED_EXTRAS:
    sys.modules.setdefault(_extra, None)  # type: ignore[arg-type]
