"""Integration SDK of the Python Honeycomb framework."""
