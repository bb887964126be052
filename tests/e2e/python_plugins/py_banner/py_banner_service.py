"""A TCP banner honeypot in the style of the reference library's banner service."""
import socket
import socketserver
import subprocess

from base_service import ServerCustomService


class PyBannerService(ServerCustomService):
    def __init__(self, *args, **kwargs):
        super(PyBannerService, self).__init__(*args, **kwargs)
        self.server = None
        self.helper = None

    def on_server_start(self):
        service = self
        banner = self.service_args.get("banner", "SSH-2.0-OpenSSH_7.4")

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(10)
                self.request.sendall((banner + "\r\n").encode())
                try:
                    data = self.request.recv(1024)
                except socket.timeout:
                    data = b""
                service.add_alert_to_queue({
                    "event_type": "py_banner_connection",
                    "originating_ip": self.client_address[0],
                    "originating_port": self.client_address[1],
                    "request": data.decode("utf-8", "replace").strip(),
                })

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        socketserver.ThreadingTCPServer.daemon_threads = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", self.service_args["port"]), Handler)
        if self.service_args.get("spawn_helper"):
            self.helper = subprocess.Popen(["sleep", "300"])
            self.logger.info("helper pid: {}".format(self.helper.pid))
        self.signal_ready()
        self.logger.info("Banner service listening on port {}".format(self.service_args["port"]))
        self.server.serve_forever()

    def on_server_shutdown(self):
        self.logger.info("Banner service shutting down")
        if self.server:
            self.server.shutdown()
            self.server.server_close()


service_class = PyBannerService
