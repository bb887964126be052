# -*- coding: utf-8 -*-
"""A Python Honeycomb integration in the style of the reference json_file."""
from __future__ import unicode_literals

import json
import logging
import os

# The reference json_file imports the top-level `integrationmanager`; the
# retries this test checks only work if both paths give the same classes.
from integrationmanager.exceptions import IntegrationPollEventError, IntegrationSendEventError
from honeycomb.integrationmanager.integration_utils import BaseIntegration


class PyFileOutputIntegration(BaseIntegration):
    """Appends each alert to `filepath`."""

    def __init__(self, integration_data):
        super(PyFileOutputIntegration, self).__init__(integration_data)
        self.failures_left = int(integration_data.get("fail_first", 0) or 0)
        self.polled = set()

    def send_event(self, alert_dict):
        # Like the reference json_file: logging.handlers used without being
        # imported here (the framework has imported it).
        assert logging.handlers.WatchedFileHandler
        if self.failures_left > 0:
            self.failures_left -= 1
            raise IntegrationSendEventError("simulated failure, {} left".format(self.failures_left))
        with open(self.integration_data["filepath"], "a") as fh:
            fh.write(json.dumps(alert_dict) + "\n")
        self.logger.debug("wrote alert {}".format(alert_dict.get("id")))
        return {"alert_id": alert_dict.get("id")}, None

    def format_output_data(self, output_data):
        return output_data

    def test_connection(self, integration_data):
        path = integration_data["filepath"]
        folder = os.path.dirname(path) or "."
        if not os.access(folder, os.W_OK):
            return False, "cannot write to {}".format(folder)
        return True, "can write to {}".format(path)

    def poll_for_updates(self, integration_output_data):
        alert_id = integration_output_data["alert_id"]
        if alert_id not in self.polled:
            self.polled.add(alert_id)
            raise IntegrationPollEventError("not yet")
        return {"alert_id": alert_id, "status": "done"}


IntegrationActionsClass = PyFileOutputIntegration
