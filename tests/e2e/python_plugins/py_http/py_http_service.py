# -*- coding: utf-8 -*-
"""Honeycomb HTTP Server, written against the Python framework's API exactly
as the reference library's simple_http is."""
from __future__ import unicode_literals

import os
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from urllib.request import urlopen

from base_service import ServerCustomService

HTTP_ALERT_TYPE_NAME = "py_http"
EVENT_TYPE_FIELD_NAME = "event_type"
ORIGINATING_IP_FIELD_NAME = "originating_ip"
ORIGINATING_PORT_FIELD_NAME = "originating_port"
REQUEST_FIELD_NAME = "request"
DEFAULT_PORT = 8888
DEFAULT_SERVER_VERSION = "nginx"
BODY = b"<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n"


class HoneyHTTPRequestHandler(BaseHTTPRequestHandler, object):
    """Serves the nginx welcome page to everyone and raises an alert per request."""

    def send_head(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()

    def do_HEAD(self):
        self.send_head()
        self.alert(self)

    def do_GET(self):
        self.send_head()
        self.wfile.write(BODY)
        self.alert(self)

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        self.logger.debug("%s - - [%s] %s" % (self.client_address[0], self.log_date_time_string(), format % args))


class PyHTTPService(ServerCustomService):
    """Simple HTTP Honeycomb Service."""

    httpd = None

    def __init__(self, *args, **kwargs):
        super(PyHTTPService, self).__init__(*args, **kwargs)

    def alert(self, request):
        """Raise an alert."""
        params = {
            EVENT_TYPE_FIELD_NAME: HTTP_ALERT_TYPE_NAME,
            ORIGINATING_IP_FIELD_NAME: request.client_address[0],
            ORIGINATING_PORT_FIELD_NAME: request.client_address[1],
            REQUEST_FIELD_NAME: " ".join([request.command, request.path, request.request_version]),
        }
        if request.headers.get("X-Extra"):
            params["additional_fields"] = {"x_extra": request.headers.get("X-Extra"), "n": [1, 2]}
        self.add_alert_to_queue(params)

    def on_server_start(self):
        """Initialize Service."""
        os.chdir(os.path.dirname(os.path.abspath(__file__)))
        requestHandler = HoneyHTTPRequestHandler
        requestHandler.alert = self.alert
        requestHandler.logger = self.logger
        requestHandler.server_version = self.service_args.get("version", DEFAULT_SERVER_VERSION)

        port = self.service_args.get("port", DEFAULT_PORT)
        threading = self.service_args.get("threading", False)
        if threading:
            self.httpd = ThreadingHTTPServer(("", port), requestHandler)
        else:
            self.httpd = HTTPServer(("", port), requestHandler)

        self.signal_ready()
        self.logger.info("Starting {}Simple HTTP service on port: {}".format("Threading " if threading else "", port))
        self.logger.debug("service args: {}".format(sorted(self.service_args.items())))
        self.logger.warning("alert types: {}".format(",".join(self.alert_types)))
        self.httpd.serve_forever()

    def on_server_shutdown(self):
        """Shut down gracefully."""
        if self.httpd:
            self.httpd.shutdown()
            self.logger.info("Simple HTTP service stopped")
            self.httpd = None

    def test(self):
        """Test service alerts and return a list of triggered event types."""
        event_types = list()
        self.logger.debug("executing service test")
        urlopen("http://localhost:{}/".format(self.service_args.get("port")), timeout=10).read()
        event_types.append(HTTP_ALERT_TYPE_NAME)
        return event_types

    def __str__(self):
        return "Simple HTTP"


service_class = PyHTTPService
