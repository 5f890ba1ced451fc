"""Root conftest: only the plugin list (pytest allows pytest_plugins here alone)."""

pytest_plugins = ["techval.pytest_plugin", "steps.organization_steps"]
