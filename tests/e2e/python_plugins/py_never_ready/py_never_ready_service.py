"""Forgets to call signal_ready(): the host must report it and stop it."""
import threading

from base_service import ServerCustomService


class NeverReadyService(ServerCustomService):
    def __init__(self, *args, **kwargs):
        super(NeverReadyService, self).__init__(*args, **kwargs)
        self.stop = threading.Event()

    def on_server_start(self):
        self.logger.info("starting, but never ready")
        self.stop.wait()

    def on_server_shutdown(self):
        self.logger.info("never-ready service asked to shut down")
        self.stop.set()


service_class = NeverReadyService
