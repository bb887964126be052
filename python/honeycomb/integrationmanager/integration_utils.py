"""BaseIntegration: the base class of a Python Honeycomb integration
(`integration.py` defines `IntegrationActionsClass`, usually a subclass)."""
import logging

from honeycomb.integrationmanager.exceptions import IntegrationNoMethodImplementationError


class BaseIntegration(object):
    """Base output integration.

    :param integration_data: the integration's configured parameters (a dict)
    """

    logger = logging.getLogger(__name__)

    def __init__(self, integration_data):
        self.integration_data = integration_data
        self.logger = logging.getLogger(_integration_logger_name or __name__)

    def send_event(self, alert_dict):
        """Sends one alert; returns (output_data, output_file_content).
        Raise IntegrationSendEventError to have the host retry it."""
        raise IntegrationNoMethodImplementationError("send_event")

    def format_output_data(self, output_data):
        """Formats the output data of send_event for display."""
        return output_data

    def test_connection(self, integration_data):
        """Returns (success, response)."""
        raise IntegrationNoMethodImplementationError("test_connection")

    def poll_for_updates(self, integration_output_data):
        """Polls for updates of a sent event (when polling_enabled); raise
        IntegrationPollEventError to be polled again later."""
        raise IntegrationNoMethodImplementationError("poll_for_updates")


# Set by honeycomb_child.py to "honeycomb.integration.<name>".
_integration_logger_name = None
