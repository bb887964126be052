"""Alias: the same exception classes as honeycomb.integrationmanager.exceptions,
so `except IntegrationSendEventError` matches whichever path a plugin used."""
from honeycomb.integrationmanager.exceptions import *  # noqa: F401,F403
