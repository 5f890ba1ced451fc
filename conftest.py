"""Root conftest: only the plugin list (pytest allows pytest_plugins here alone)."""

pytest_plugins = [
    "techval.harness.pytest_plugin",
    "techval.harness.evidence.plugin",
    "steps.organization_steps",
    "steps.patient_search_steps",
    "steps.document_query_steps",
    "steps.data_on_demand_steps",
]
