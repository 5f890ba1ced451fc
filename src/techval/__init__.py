"""techval: conformance harness for the Redox onramp to Carequality."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

# Optional extras of libraries that techval never uses, which `techval` keeps from loading
# (cli/loading.py): httpx's command line brings click, rich and Pygments wherever they are
# installed (a development tool installs them: ~30 ms a process). Each: (its package, the
# module that imports it and goes without it on ImportError: thirdparty.missing() checks).
UNUSED_EXTRAS = {"httpx._main": ("httpx", "httpx")}
