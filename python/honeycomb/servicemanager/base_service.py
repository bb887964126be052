"""ServerCustomService and DockerService: the base classes of a Python
Honeycomb service, as the reference framework defines them, backed by the C++
host (honeycomb_child.py connects them to it).

A service subclasses ServerCustomService, implements on_server_start() (it
runs on a thread of its own and must call signal_ready() once it listens) and
optionally on_server_shutdown() and test(), and ends its module with
`service_class = TheClass`.
"""
import logging
import os
import time


class _NoHost(object):
    """Used when a service is instantiated outside the host (e.g. in a unit
    test of the plugin): alerts and readiness are only logged."""

    def ready(self):
        logging.getLogger(__name__).debug("service is ready")

    def alert(self, alert_dict):
        logging.getLogger(__name__).info("alert: %r", alert_dict)


# Replaced by honeycomb_child.py with the channel to the host.
_host = _NoHost()
# The name of the service's logger ("honeycomb.<service name>"), set by honeycomb_child.py.
_logger_name = __name__


class ServerCustomService(object):
    """Custom service base class.

    :param alert_types: the event type names of the service's config.json
    :param service_args: the validated parameters of this run (a dict)
    """

    alerts_queue = None
    thread_server = None
    logger = logging.getLogger(__name__)

    def __init__(self, alert_types, service_args={}):  # noqa: B006 - the reference's signature
        super(ServerCustomService, self).__init__()
        self.alert_types = alert_types
        self.service_args = dict(service_args) if service_args is not None else {}
        self.logger = logging.getLogger(_logger_name)
        self.logger.debug("Initializing {}".format(self.__class__.__name__))

    def signal_ready(self):
        """Tells the host the service accepts connections (the host logs `service is ready`)."""
        _host.ready()

    def on_server_start(self):
        """Runs on its own thread; must call signal_ready() once listening."""
        raise NotImplementedError

    def on_server_shutdown(self):
        """Called on stop (SIGINT/SIGTERM to the host); make on_server_start return."""

    def add_alert_to_queue(self, alert_dict):
        """Raises an alert: `alert_dict["event_type"]` names one of the
        service's event types; the other keys are its fields. The host
        validates, stamps and delivers it (an unknown event type is dropped)."""
        _host.alert(alert_dict)

    def run_service(self):
        """The reference's entry point: on_server_start() in this thread."""
        self.on_server_start()


class DockerService(ServerCustomService):
    """A service that runs a Docker container and turns its log lines into
    alerts: subclasses define docker_image_name, optionally docker_params,
    and parse_line(line) -> alert dict or None.

    Needs a Docker engine and the `docker` Python package; without them
    on_server_start() fails with a message saying so.
    """

    def __init__(self, *args, **kwargs):
        super(DockerService, self).__init__(*args, **kwargs)
        self._container = None
        self._docker_client = None

    @property
    def docker_params(self):
        """Keyword arguments of docker's containers.run()."""
        return {}

    @property
    def docker_image_name(self):
        """The image to run."""
        raise NotImplementedError

    def parse_line(self, line):
        """An alert dict for a log line of the container, or None."""
        raise NotImplementedError

    def _connect(self):
        try:
            import docker  # noqa: PLC0415 - optional dependency
        except ImportError:
            raise RuntimeError(
                "{} is a DockerService: it needs the `docker` Python package and a running Docker engine; "
                "the `docker` package is not installed".format(self.__class__.__name__))
        try:
            client = docker.from_env()
            client.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
            raise RuntimeError(
                "{} is a DockerService: it needs a running Docker engine, and none is reachable ({})".format(
                    self.__class__.__name__, exc))
        return client

    def read_lines(self, file_path, empty_lines=False, signal_ready=True):
        """Yields the lines appended to `file_path` (reopened when it is
        rotated); calls signal_ready() once the file is open."""
        fh = None
        inode = None
        ready = False
        while True:
            if fh is None:
                try:
                    fh = open(file_path, "r")
                    fh.seek(0, os.SEEK_END)
                    inode = os.fstat(fh.fileno()).st_ino
                except OSError:
                    time.sleep(0.5)
                    continue
                if signal_ready and not ready:
                    self.signal_ready()
                    ready = True
            line = fh.readline()
            if line:
                line = line.rstrip("\n")
                if line or empty_lines:
                    yield line
                continue
            try:
                if os.stat(file_path).st_ino != inode:
                    fh.close()
                    fh = None
                    continue
            except OSError:
                fh.close()
                fh = None
                continue
            time.sleep(0.1)

    def get_lines(self):
        """Yields the container's log lines."""
        for chunk in self._container.logs(stream=True, follow=True):
            for line in chunk.decode("utf-8", "replace").splitlines():
                yield line

    def on_server_start(self):
        self._docker_client = self._connect()
        self._container = self._docker_client.containers.run(self.docker_image_name, detach=True,
                                                             **self.docker_params)
        self.signal_ready()
        for line in self.get_lines():
            try:
                alert_dict = self.parse_line(line)
                if alert_dict:
                    self.add_alert_to_queue(alert_dict)
            except Exception:  # noqa: BLE001 - one bad line must not stop the service
                self.logger.exception("parse_line failed")

    def on_server_shutdown(self):
        if not self._container:
            return
        try:
            self._container.stop()
            self._container.remove(v=True, force=True)
        except Exception:  # noqa: BLE001
            self.logger.exception("cannot stop the container")
