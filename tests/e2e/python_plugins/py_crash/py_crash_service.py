"""Crashes in on_server_start: the host must report the traceback."""
from base_service import ServerCustomService


def open_listener(port):
    raise RuntimeError("boom: cannot listen on port {}".format(port))


class CrashService(ServerCustomService):
    def on_server_start(self):
        self.logger.info("about to crash")
        open_listener(4242)


service_class = CrashService
