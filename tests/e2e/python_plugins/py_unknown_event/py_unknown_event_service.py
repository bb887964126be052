"""Raises one alert of an event type its config.json does not declare, then a known one."""
import threading

from base_service import ServerCustomService


class UnknownEventService(ServerCustomService):
    def __init__(self, *args, **kwargs):
        super(UnknownEventService, self).__init__(*args, **kwargs)
        self.stop = threading.Event()

    def on_server_start(self):
        self.signal_ready()
        self.add_alert_to_queue({"event_type": "not_in_config", "request": "x"})
        self.add_alert_to_queue({"request": "no event type at all"})
        self.add_alert_to_queue({"event_type": "py_known", "request": "known one"})
        self.logger.info("alerts raised")
        self.stop.wait()

    def on_server_shutdown(self):
        self.stop.set()


service_class = UnknownEventService
