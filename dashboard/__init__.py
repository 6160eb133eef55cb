"""HubSpot OAuth admin dashboard: core package (no Streamlit outside dashboard/ui/).

Packages by domain: ``installs``, ``refresh``, ``connections``, ``tokens``, ``admin``, ``proxy``, ``lifecycle``,
``webhooks``, ``scopes``, ``ops``; building blocks: ``security``, ``storage``, ``repository``, ``hubspot``;
entry points: ``ui``, ``web``, ``cli``; and ``sandbox``, a local HubSpot that imports nothing else from here.
docs/architecture.md draws them; the import contracts in pyproject.toml enforce the direction.
"""
