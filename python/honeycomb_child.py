"""honeycomb_child: runs one Python Honeycomb plugin for the C++ host.

The host starts `python -u -B honeycomb_child.py --mode MODE --name NAME
--folder FOLDER` with two pipes besides stdin/stdout/stderr:

  fd 3  child -> host   one JSON object per line (see docs/PYTHON_PLUGINS.md)
  fd 4  host -> child   one JSON object per line; the first is {"t":"init",...}

The plugin's own stdout/stderr are the host's (console, or a daemon's
stdout.log/stderr.log). Modes:

  service      import <name>_service.py, run on_server_start() on a thread,
               report ready/alerts/logs, call on_server_shutdown() on
               {"t":"shutdown"} (or SIGTERM, or when the host goes away)
  test         instantiate the service, call its test(), report the result
  integration  import integration.py, answer {"t":"send"} / {"t":"test"},
               poll for updates when polling_enabled
  requirements report, for each line of a requirements.txt, whether it is
               importable (used by `install` when pip cannot install it)
"""
import argparse
import collections
import importlib.util
import json
import logging
# The Python framework had imported logging.handlers before loading plugins,
# and the reference json_file integration uses it without importing it.
import logging.handlers  # noqa: F401
import os
import signal
import sys
import threading
import time
import traceback

TO_HOST_FD = 3
FROM_HOST_FD = 4


def _jsonable(value):
    """json.dumps fallback: bytes as text, anything else as str()."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _dumps(value):
    return json.dumps(value, separators=(",", ":"), default=_jsonable, allow_nan=False)


class Channel(object):
    """The pipe to the host. Writes are whole lines under a lock, so threads
    never interleave; a host that has gone away ends this process."""

    def __init__(self, fd):
        self._fd = fd
        self._lock = threading.Lock()

    def write_line(self, text):
        data = text.encode("utf-8", "replace")
        with self._lock:
            view = memoryview(data)
            try:
                while view:
                    n = os.write(self._fd, view)
                    view = view[n:]
            except (BrokenPipeError, OSError):
                # The host is gone: nobody is left to serve.
                os._exit(1)

    def send(self, message):
        self.write_line(_dumps(message) + "\n")

    # ---- what base_service calls ----
    def ready(self):
        if not getattr(self, "_ready", False):
            self._ready = True
            self.send({"t": "ready"})

    def alert(self, alert_dict):
        try:
            body = _dumps(alert_dict)
        except (TypeError, ValueError) as exc:
            logging.getLogger("honeycomb.child").error("alert dropped: cannot serialise it to JSON (%s)", exc)
            return
        if not body.startswith("{"):
            logging.getLogger("honeycomb.child").error("alert dropped: add_alert_to_queue() needs a dict, got %s",
                                                       type(alert_dict).__name__)
            return
        self.write_line('{"t":"alert","alert":' + body + "}\n")


class HostLogHandler(logging.Handler):
    """Sends every log record to the host, which writes it to its console
    and honeycomb.debug.log under the record's logger name and level."""

    def __init__(self, channel):
        super(HostLogHandler, self).__init__(logging.DEBUG)
        self._channel = channel
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record):
        try:
            self._channel.send({"t": "log", "level": record.levelno, "name": record.name,
                                "msg": self.format(record)})
        except Exception:  # noqa: BLE001 - logging must never raise into the plugin
            self.handleError(record)


def _exception_text(exc):
    return "{}: {}".format(type(exc).__name__, exc) if str(exc) else type(exc).__name__


def report_crash(channel, stage, exc):
    channel.send({"t": "crash", "stage": stage, "error": _exception_text(exc),
                  "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))})


def finish(code):
    """Exits now: plugin threads (daemon or not) must not keep us alive."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        pass
    os._exit(code)


def load_module(folder, module_name):
    path = os.path.join(folder, module_name + ".py")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load {}".format(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def read_messages():
    """Yields the host's messages; ends when the host closes the pipe."""
    with os.fdopen(FROM_HOST_FD, "rb", buffering=65536) as stream:
        for line in stream:
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                yield message


class Stop(Exception):
    """SIGTERM delivered to this process."""


def _on_sigterm(signum, frame):
    raise Stop()


# ---------------------------------------------------------------- service --

def service_instance(init, folder, name):
    module = load_module(folder, name + "_service")
    cls = getattr(module, "service_class", None)
    if cls is None:
        raise ImportError("{}_service.py does not define service_class".format(name))
    return cls(alert_types=list(init.get("alert_types", [])), service_args=dict(init.get("args", {})))


def run_service(channel, messages, init, folder, name):
    try:
        service = service_instance(init, folder, name)
    except BaseException as exc:  # noqa: BLE001 - reported to the host, whatever it is
        report_crash(channel, "import", exc)
        finish(1)
    state = {"stopping": False}
    grace = float(init.get("stop_grace", 2.5))

    def start():
        try:
            service.on_server_start()
        except BaseException as exc:  # noqa: BLE001
            if state["stopping"]:
                logging.getLogger("honeycomb.child").debug("on_server_start ended during shutdown: %s", exc)
                return
            report_crash(channel, "on_server_start", exc)
            finish(1)
        if not getattr(channel, "_ready", False) and not state["stopping"]:
            # on_server_start returned without signal_ready(): the host
            # reports that the service stopped before it was ready.
            finish(0)

    thread = threading.Thread(target=start, name="on_server_start", daemon=True)
    thread.start()
    try:
        for message in messages:
            if message.get("t") == "shutdown":
                break
    except Stop:
        pass
    state["stopping"] = True
    try:
        service.on_server_shutdown()
    except BaseException as exc:  # noqa: BLE001
        logging.getLogger(init.get("logger", "honeycomb")).error(
            "on_server_shutdown failed: %s", _exception_text(exc), exc_info=exc)
    thread.join(grace)
    finish(0)


def run_test(channel, init, folder, name):
    try:
        service = service_instance(init, folder, name)
    except BaseException as exc:  # noqa: BLE001
        report_crash(channel, "import", exc)
        finish(1)
    test = getattr(service, "test", None)
    if not callable(test):
        channel.send({"t": "result", "id": 0, "value": None})
        finish(0)
    try:
        triggered = test()
    except BaseException as exc:  # noqa: BLE001
        report_crash(channel, "test", exc)
        finish(1)
    channel.send({"t": "result", "id": 0, "value": [str(t) for t in (triggered or [])]})
    finish(0)


# ------------------------------------------------------------ integration --

def run_integration(channel, messages, init, folder, name):
    from honeycomb.integrationmanager import exceptions as ex  # noqa: PLC0415
    from honeycomb.integrationmanager import integration_utils  # noqa: PLC0415

    integration_utils._integration_logger_name = init.get("logger")
    logger = logging.getLogger(init.get("logger", "honeycomb.integration"))
    try:
        module = load_module(folder, "integration")
        cls = getattr(module, "IntegrationActionsClass", None)
        if cls is None:
            raise ImportError("integration.py does not define IntegrationActionsClass")
        args = dict(init.get("args", {}))
        integration = cls(args)
    except BaseException as exc:  # noqa: BLE001
        report_crash(channel, "import", exc)
        finish(1)
    channel.send({"t": "hello"})

    lock = threading.Lock()  # plugin code is not assumed thread-safe
    pending = collections.deque(maxlen=1000)  # output_data awaiting poll_for_updates
    polling = bool(init.get("polling_enabled")) and float(init.get("polling_duration", 0) or 0) >= 0

    def poller():
        period = max(float(init.get("polling_duration", 0) or 0), 0.1)
        while True:
            time.sleep(period)
            for _ in range(len(pending)):
                with lock:
                    if not pending:
                        break
                    output_data = pending.popleft()
                    try:
                        update = integration.poll_for_updates(output_data)
                    except ex.IntegrationPollEventError:
                        pending.append(output_data)  # not yet: poll again later
                        continue
                    except Exception as exc:  # noqa: BLE001
                        logger.error("poll_for_updates failed: %s", _exception_text(exc), exc_info=exc)
                        continue
                logger.info("poll_for_updates: %s", update)

    if polling:
        threading.Thread(target=poller, name="poll_for_updates", daemon=True).start()

    try:
        for message in messages:
            kind = message.get("t")
            if kind == "shutdown":
                break
            if kind == "send":
                delivered, error = 0, ""
                with lock:
                    for alert in message.get("alerts", []):
                        try:
                            result = integration.send_event(alert)
                        except ex.IntegrationSendEventError as exc:
                            error = _exception_text(exc)
                            break
                        except (ex.IntegrationMissingRequiredFieldError, ex.IntegrationOutputFormatError) as exc:
                            # Not retriable: the reference marks the alert failed.
                            logger.error("alert %s not sent: %s", alert.get("id"), _exception_text(exc))
                            delivered += 1
                            continue
                        except Exception as exc:  # noqa: BLE001 - retried like a send error
                            logger.error("send_event failed: %s", _exception_text(exc), exc_info=exc)
                            error = _exception_text(exc)
                            break
                        delivered += 1
                        output_data = result[0] if isinstance(result, (tuple, list)) and result else result
                        if polling and output_data:
                            pending.append(output_data)
                channel.send({"t": "result", "id": message.get("id"), "delivered": delivered, "error": error})
            elif kind == "test":
                try:
                    with lock:
                        outcome = integration.test_connection(dict(init.get("args", {})))
                    if isinstance(outcome, (tuple, list)) and len(outcome) >= 2:
                        success, response = bool(outcome[0]), outcome[1]
                    else:
                        success, response = bool(outcome), ""
                    if not isinstance(response, str):
                        response = _dumps(response)
                except Exception as exc:  # noqa: BLE001
                    success, response = False, _exception_text(exc)
                channel.send({"t": "result", "id": message.get("id"), "success": success, "response": response})
    except Stop:
        pass
    finish(0)


# ----------------------------------------------------------- requirements --

# Distribution names whose module is named otherwise.
KNOWN_MODULES = {
    "pyyaml": "yaml", "beautifulsoup4": "bs4", "python-dateutil": "dateutil", "pillow": "PIL",
    "pycryptodome": "Crypto", "pycrypto": "Crypto", "dnspython": "dns", "python-magic": "magic",
    "pyopenssl": "OpenSSL", "scikit-learn": "sklearn", "opencv-python": "cv2", "attrs": "attr",
    "msgpack-python": "msgpack", "protobuf": "google.protobuf", "pyjwt": "jwt", "elasticsearch": "elasticsearch",
    "python-json-logger": "pythonjsonlogger", "pysnmp": "pysnmp", "python-nmap": "nmap",
}


def check_requirements(path):
    """Prints one JSON object per requirement: is it importable, and from where."""
    import importlib.metadata  # noqa: PLC0415
    import re  # noqa: PLC0415

    with open(path) as fh:
        lines = fh.read().splitlines()
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if not match:
            continue
        dist_name = match.group(0)
        report = {"requirement": line, "name": dist_name, "available": False}
        try:
            dist = importlib.metadata.distribution(dist_name)
            report.update(available=True, version=dist.version, where=str(dist.locate_file("")))
        except importlib.metadata.PackageNotFoundError:
            pass
        module = KNOWN_MODULES.get(dist_name.lower(), dist_name.replace("-", "_"))
        report["module"] = module
        if not report["available"]:
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                spec = None
            if spec is not None:
                report.update(available=True, where=os.path.dirname(spec.origin or "") or str(spec.origin))
        print(json.dumps(report))


# ------------------------------------------------------------------- main --

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", required=True, choices=["service", "test", "integration", "requirements"])
    parser.add_argument("--name", default="")
    parser.add_argument("--folder", required=True)
    parser.add_argument("--requirements", default="")
    options = parser.parse_args()

    folder = os.path.abspath(options.folder)
    here = os.path.dirname(os.path.abspath(__file__))
    # Our compatibility modules first (`base_service`, `honeycomb.*`), then
    # the plugin's folder and the dependencies `install` put in it.
    sys.path[:0] = [here, folder, os.path.join(folder, ".deps")]

    if options.mode == "requirements":
        check_requirements(options.requirements)
        return

    # The host owns the terminal's Ctrl-C; it asks us to stop over fd 4.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)

    channel = Channel(TO_HOST_FD)
    root = logging.getLogger()
    root.handlers[:] = [HostLogHandler(channel)]
    root.setLevel(logging.DEBUG)

    def thread_excepthook(args):
        if args.exc_type is SystemExit:
            return
        logging.getLogger("honeycomb.child").error(
            "uncaught exception in thread %s: %s", args.thread.name if args.thread else "?",
            _exception_text(args.exc_value), exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    threading.excepthook = thread_excepthook

    messages = read_messages()
    init = next(messages, None)
    if init is None or init.get("t") != "init":
        finish(2)

    from honeycomb.servicemanager import base_service  # noqa: PLC0415

    base_service._host = channel
    base_service._logger_name = init.get("logger", "honeycomb." + options.name)
    base_service.ServerCustomService.logger = logging.getLogger(base_service._logger_name)

    if options.mode == "service":
        run_service(channel, messages, init, folder, options.name)
    elif options.mode == "test":
        run_test(channel, init, folder, options.name)
    else:
        run_integration(channel, messages, init, folder, options.name)


if __name__ == "__main__":
    main()
