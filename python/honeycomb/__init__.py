"""Compatibility package: the import paths of the Python Honeycomb framework
(`honeycomb.servicemanager.base_service`,
`honeycomb.integrationmanager.integration_utils`,
`honeycomb.integrationmanager.exceptions`) for plugins run by the C++ host."""
