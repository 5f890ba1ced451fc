"""techval: conformance harness for the Redox onramp to Carequality."""

from __future__ import annotations

import sys

__version__ = "0.1.0"

__all__ = ["__version__"]

# Two optional extras of libraries techval loads and never uses, kept from loading in its
# processes (each is imported first thing, before the libraries): httpx's command line, which
# brings click, rich and Pygments wherever they are installed (a development tool installs
# them: ~30 ms a process), and Mako's Pygments highlighting of template errors (Mako comes with
# pytest-bdd: ~15 ms). A None entry in sys.modules makes their import raise ImportError, which
# both libraries catch to go without them (thirdparty.missing() checks that they still do).
UNUSED_EXTRAS = {
    "httpx._main": ("httpx", "httpx"),
    "mako.ext.pygmentplugin": ("Mako", "mako.exceptions"),
}
for _extra in UNUSED_EXTRAS:  # each: (the package, the module that imports it)
    sys.modules.setdefault(_extra, None)  # type: ignore[arg-type]
del _extra
