"""Alias of honeycomb.integrationmanager: the reference library's integrations
import `integrationmanager.exceptions` and `integrationmanager.integration_utils`
as top-level modules (the Python framework put its package folder on sys.path)."""
