"""Fails at import: the host must say so when the integration is loaded."""
import honeycomb_missing_integration_dependency  # noqa: F401

from honeycomb.integrationmanager.integration_utils import BaseIntegration


class BrokenIntegration(BaseIntegration):
    def send_event(self, alert_dict):
        return {}, None


IntegrationActionsClass = BrokenIntegration
