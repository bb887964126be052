"""Imports hc_wheel_demo, which `install` puts into this plugin's .deps folder."""
import threading

import hc_wheel_demo

from base_service import ServerCustomService


class WheelReqService(ServerCustomService):
    def __init__(self, *args, **kwargs):
        super(WheelReqService, self).__init__(*args, **kwargs)
        self.stop = threading.Event()

    def on_server_start(self):
        self.signal_ready()
        self.add_alert_to_queue({"event_type": "py_wheel_req",
                                 "request": "{} from {}".format(hc_wheel_demo.VALUE, hc_wheel_demo.__file__)})
        self.stop.wait()

    def on_server_shutdown(self):
        self.stop.set()


service_class = WheelReqService
