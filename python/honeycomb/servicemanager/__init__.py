"""Service SDK of the Python Honeycomb framework (see base_service)."""
