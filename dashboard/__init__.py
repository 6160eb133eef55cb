"""HubSpot OAuth admin dashboard: core package (no Streamlit outside dashboard/ui/)."""
