"""Imports a module that its requirements.txt names and nobody has."""
import honeycomb_no_such_module_xyz  # noqa: F401

from base_service import ServerCustomService


class MissingReqService(ServerCustomService):
    def on_server_start(self):
        self.signal_ready()


service_class = MissingReqService
