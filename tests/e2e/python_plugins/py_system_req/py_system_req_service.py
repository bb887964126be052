"""Needs PyYAML, which Debian's python3-yaml provides."""
import threading

import yaml

from base_service import ServerCustomService


class SystemReqService(ServerCustomService):
    def __init__(self, *args, **kwargs):
        super(SystemReqService, self).__init__(*args, **kwargs)
        self.stop = threading.Event()

    def on_server_start(self):
        self.signal_ready()
        self.add_alert_to_queue({"event_type": "py_system_req",
                                 "request": yaml.safe_dump({"yaml": "works"}).strip()})
        self.stop.wait()

    def on_server_shutdown(self):
        self.stop.set()


service_class = SystemReqService
