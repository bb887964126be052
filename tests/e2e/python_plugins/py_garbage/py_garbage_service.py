"""Misbehaves on the host channel (fd 3): the host must drop and count what
is not a message, and keep working."""
import os
import threading

from base_service import ServerCustomService


class GarbageService(ServerCustomService):
    def __init__(self, *args, **kwargs):
        super(GarbageService, self).__init__(*args, **kwargs)
        self.stop = threading.Event()

    def on_server_start(self):
        garbage = [
            b"this is not json\n",
            b"[1, 2, 3]\n",
            b'{"no_type": true}\n',
            b'{"t": 5}\n',
            b'{"t": "alert", "alert": "not an object"}\n',
            b'{"t": "log", "level": "high", "name": 7, "msg": ["x"]}\n',
            b"\xff\xfe\x00 binary \x00\n",
            b'{"t": "alert", "alert": {"event_type": "py_garbage", "request": "' + b"A" * (2 * 1024 * 1024) + b'"}}\n',
            b'{"t": "unheard_of"}\n',
        ]
        for g in garbage:
            os.write(3, g)
        self.signal_ready()
        self.add_alert_to_queue({"event_type": "py_garbage", "request": "still works",
                                 "originating_port": 2 ** 70})
        self.add_alert_to_queue({"event_type": "py_garbage", "request": "infinite", "dest_port": float("inf")})
        self.add_alert_to_queue({"event_type": "py_garbage", "request": b"bytes \xff value"})
        self.stop.wait()

    def on_server_shutdown(self):
        self.stop.set()


service_class = GarbageService
