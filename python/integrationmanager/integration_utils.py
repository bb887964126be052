"""Alias of honeycomb.integrationmanager.integration_utils (BaseIntegration)."""
from honeycomb.integrationmanager.integration_utils import *  # noqa: F401,F403
