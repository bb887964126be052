"""Send honeypot events to a HoneyBee node's event port (standard library only).

A HoneyBee node starts each honeypot with three environment variables and
listens for its events on a loopback TCP port:

    HONEYBEE_EVENT_PORT     the port (default 9100)
    HONEYBEE_POT_ID         the pot instance id
    HONEYBEE_HONEYPOT_TYPE  the pot's type, e.g. "cowrie"

The wire format is one compact UTF-8 JSON object per line:

    {"pot_id":"cowrie-01","pot_type":"cowrie","event_type":"login",
     "timestamp":"2024-01-15T10:30:00.123456Z","data":{"username":"admin"}}

The node never answers. Two ways to send are offered:

* ``send_event(event_type, data=None, **fields)``: one connection per event,
  like the HoneyBee integration guide's helper. Simple and robust; good for
  anything below a few hundred events per second.
* ``EventClient``: one persistent connection shared by threads, for
  honeypots with high event rates.

Both "fail silently": a honeypot must keep serving attackers whether or not a
node is listening, so nothing here raises (except KeyboardInterrupt and
SystemExit) and no call waits on the network longer than its timeout (0.5 s
by default; encoding a huge event is CPU time on top). They return True when
the line was handed to the kernel, False otherwise.

``HoneyBeeOutput`` keeps the integration guide's class (``send_event``,
``start``, ``stop``) source-compatible for honeypots written against it.
"""
import json
import math
import os
import select
import socket
import threading
import time
from datetime import datetime, timezone

__all__ = [
    "DEFAULT_EVENT_HOST",
    "DEFAULT_EVENT_PORT",
    "DEFAULT_TIMEOUT",
    "EventClient",
    "HoneyBeeOutput",
    "build_event",
    "encode_event",
    "event_port",
    "make_json_safe",
    "pot_id",
    "pot_type",
    "send_event",
]

# Loopback by number, not "localhost": the node listens on 127.0.0.1 only, and
# "localhost" may resolve to ::1 first (a refused connection, or a DNS wait).
DEFAULT_EVENT_HOST = "127.0.0.1"
DEFAULT_EVENT_PORT = 9100
# Long enough for a busy loopback peer, short enough that a honeypot never
# visibly stalls when the node is gone or wedged.
DEFAULT_TIMEOUT = 0.5

# Deeper structures are cut (rendered with str()) rather than recursed into,
# so a self-referencing object cannot raise RecursionError.
_MAX_DEPTH = 32


# ---------------------------------------------------------------------------
# Environment (read at every call: a pot may be re-configured, and tests or
# wrappers may set the variables after import)
# ---------------------------------------------------------------------------

def event_port():
    """The node's event port from HONEYBEE_EVENT_PORT, or 9100 when it is unset
    or not a valid port number (a typo must not silence every event)."""
    raw = os.environ.get("HONEYBEE_EVENT_PORT", "").strip()
    try:
        port = int(raw)
    except ValueError:
        return DEFAULT_EVENT_PORT
    return port if 0 < port < 65536 else DEFAULT_EVENT_PORT


def pot_id():
    """The pot instance id from HONEYBEE_POT_ID, or None when unset: the node
    then attributes the event to the pot it started (a made-up default id
    would attribute it to a pot that does not exist)."""
    return os.environ.get("HONEYBEE_POT_ID") or None


def pot_type():
    """The pot type from HONEYBEE_HONEYPOT_TYPE, or None when unset."""
    return os.environ.get("HONEYBEE_HONEYPOT_TYPE") or None


# ---------------------------------------------------------------------------
# Building the line
# ---------------------------------------------------------------------------

def _utc_timestamp():
    """ISO 8601 UTC with microseconds and "Z", always the same width (the
    guide's ``utcnow().isoformat()`` drops the fraction when it is zero)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _safe_text(text):
    """`text` without lone surrogates (from surrogateescape decoding), which
    cannot be encoded as UTF-8: each becomes U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _bytes_to_text(raw):
    """Bytes as text the way Cowrie logs them: decoded when they are UTF-8,
    otherwise their Python repr (``b'r\\xffoot'``), which keeps every byte
    visible to an analyst instead of silently replacing it."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return repr(raw)


def _to_text(value):
    """str(value), falling back to repr() and then to the type name, because
    a honeypot's own objects may have a broken __str__."""
    for render in (str, repr):
        try:
            return _safe_text(render(value))
        except Exception:
            pass
    return "<unprintable %s>" % type(value).__name__


def _safe_key(key):
    """A JSON object key: strings stay, bytes are decoded like values, and
    anything else (numbers, None, tuples...) becomes its text."""
    if isinstance(key, str):
        return _safe_text(key)
    if isinstance(key, (bytes, bytearray, memoryview)):
        return _safe_text(_bytes_to_text(bytes(key)))
    return _to_text(key)


def make_json_safe(value, _depth=0):
    """A copy of `value` that json.dumps always accepts and that is valid JSON
    (honeypots pass through whatever the attacker sent: raw bytes, sets,
    their own objects).

    dict -> dict with text keys; list/tuple -> list; str, int, bool, None and
    finite floats stay; NaN/Infinity -> "nan"/"inf" (JSON has no such
    numbers); bytes -> text (UTF-8 or Cowrie-style repr); anything else
    (sets, objects, datetimes) -> str(value).
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _safe_text(value)
    if isinstance(value, int):
        return int(value)  # int subclasses (IntEnum) may have odd reprs
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _safe_text(_bytes_to_text(bytes(value)))
    if _depth >= _MAX_DEPTH:
        return _to_text(value)
    if isinstance(value, dict):
        return {_safe_key(k): make_json_safe(v, _depth + 1) for k, v in list(value.items())}
    if isinstance(value, (list, tuple)):
        return [make_json_safe(v, _depth + 1) for v in value]
    return _to_text(value)


def _event_object(event_type, data, fields, event_pot_id, event_pot_type):
    """The event object in the guide's key order; values not yet made safe."""
    if data is None:
        merged = {}
    elif isinstance(data, dict):
        merged = dict(data)
    elif hasattr(data, "keys") and hasattr(data, "__getitem__"):
        merged = {k: data[k] for k in data.keys()}
    else:
        merged = {"value": data}
    merged.update(fields)

    event = {}
    if event_pot_id is not None:
        event["pot_id"] = event_pot_id
    if event_pot_type is not None:
        event["pot_type"] = event_pot_type
    event["event_type"] = event_type
    event["timestamp"] = _utc_timestamp()
    event["data"] = merged
    return event


def build_event(event_type, data=None, **fields):
    """The event object for `event_type`, with the pot id and type read from
    the environment now (each omitted when unset), made JSON-safe.

    `data` (a mapping) and `fields` are merged into the event's "data" object,
    `fields` winning on equal keys; a `data` that is not a mapping is kept
    under the key "value" so nothing the caller passed is lost.
    """
    return make_json_safe(_event_object(event_type, data, fields, pot_id(), pot_type()))


def encode_event(event):
    """One wire line: compact UTF-8 JSON and "\\n", from any object (made
    JSON-safe here). json.dumps escapes every newline inside strings, so the
    line cannot be split by its content."""
    text = json.dumps(make_json_safe(event), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"


# ---------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------

def _remaining(deadline):
    return deadline - time.monotonic()


def _connect(host, port, deadline):
    """A connected socket, or None when the deadline passes or the node
    refuses. Numeric host only: no resolver call that could block."""
    remaining = _remaining(deadline)
    if remaining <= 0:
        return None
    sock = None
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(remaining)
        sock.connect((host, port))
        return sock
    except OSError:
        if sock is not None:
            sock.close()
        return None


def _send_all(sock, payload, deadline):
    """Writes all of `payload` before the deadline (sendall's timeout bounds
    the whole call since Python 3.5). False on timeout or any error."""
    remaining = _remaining(deadline)
    if remaining <= 0:
        return False
    try:
        sock.settimeout(remaining)
        sock.sendall(payload)
        return True
    except OSError:
        return False


def send_event(event_type, data=None, **fields):
    """Sends one event on its own connection and returns True when it was
    written, False when it could not be (nothing listening, timeout, a value
    that could not be encoded). Never raises into the honeypot, never waits
    on the network longer than DEFAULT_TIMEOUT.

    The port, pot id and pot type are read from the environment at each call.
    Fields may be given as a `data` mapping, as keyword arguments, or both:

        send_event("login", {"username": b"r\\xffoot"}, password="123456")

    (A field called "data" or "event_type" must go inside the mapping.)
    """
    return _send_once(event_type, data, fields, pot_id(), pot_type(), event_port())


def _send_once(event_type, data, fields, the_pot_id, the_pot_type, port):
    """One event on its own connection, within DEFAULT_TIMEOUT; never raises."""
    sock = None
    try:
        payload = encode_event(_event_object(event_type, data, fields, the_pot_id, the_pot_type))
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        sock = _connect(DEFAULT_EVENT_HOST, int(port), deadline)
        if sock is None:
            return False
        return _send_all(sock, payload, deadline)
    except Exception:
        return False
    finally:
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


class EventClient:
    """A persistent, thread-safe connection to the event port, for honeypots
    that send many events per second (one connection per event then costs
    more than the event).

    Before each write it checks whether the node closed the connection
    (restart, idle timeout): the node never sends anything, so a readable
    socket means end-of-file or reset. A stale connection is replaced at
    once instead of swallowing the event, as a naive persistent client
    would. If a write fails on a connection that had been open, it
    reconnects once and writes the event again; after a failed connect it
    gives up on that event and returns False. Like send_event, no call
    waits longer than `timeout` in total (for the lock, the connect and the
    writes together) and nothing raises.

    The port, pot id and pot type default to the environment, read when an
    event is built (port: when connecting). The client survives fork(): a
    child process opens its own connection.

        client = EventClient()
        client.send_event("cowrie.login.failed", username="root", password="x")
        client.close()
    """

    def __init__(self, host=DEFAULT_EVENT_HOST, port=None, timeout=DEFAULT_TIMEOUT):
        self.host = host
        self.port = port
        self.timeout = timeout
        self._lock = threading.Lock()
        self._sock = None
        self._owner_pid = os.getpid()

    # -- public API --------------------------------------------------------

    def send_event(self, event_type, data=None, **fields):
        """Builds the event like the module's send_event and sends it on the
        shared connection. True when written, False otherwise."""
        try:
            payload = encode_event(_event_object(event_type, data, fields, pot_id(), pot_type()))
        except Exception:
            return False
        return self.send_line(payload)

    def send_line(self, line):
        """Sends one already-encoded line (bytes or str; a missing final
        newline is added). For honeypots that build their own records, like
        Cowrie's flat ones."""
        try:
            if isinstance(line, str):
                line = line.encode("utf-8", "replace")
            if not line.endswith(b"\n"):
                line += b"\n"
            deadline = time.monotonic() + self.timeout
            self._after_fork_check()
            if not self._lock.acquire(timeout=max(_remaining(deadline), 0)):
                return False
            try:
                return self._send_locked(line, deadline)
            finally:
                self._lock.release()
        except Exception:
            return False

    def is_connected(self):
        """True when a connection is open and the node has not closed it.
        A connection found dead is dropped (the next send reconnects)."""
        try:
            self._after_fork_check()
            with self._lock:
                if self._sock is not None and self._peer_closed(self._sock):
                    self._drop()
                return self._sock is not None
        except Exception:
            return False

    def close(self):
        """Closes the connection; a later send opens a new one."""
        try:
            with self._lock:
                self._drop()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def __del__(self):
        try:
            self._drop()
        except Exception:
            pass

    # -- internals ---------------------------------------------------------

    def _after_fork_check(self):
        """In a forked child, the inherited socket is the parent's stream
        (interleaved writes would corrupt lines) and the lock may have been
        held by a parent thread that does not exist here: start fresh."""
        if self._owner_pid != os.getpid():
            inherited = self._sock
            self._sock = None
            self._lock = threading.Lock()
            self._owner_pid = os.getpid()
            if inherited is not None:
                try:
                    inherited.close()  # closes the child's copy only
                except OSError:
                    pass

    @staticmethod
    def _peer_closed(sock):
        """True when the node closed or reset the connection. It never
        writes to us, so any readable state is EOF, a reset, or bytes we do
        not expect; all three mean: start a new connection."""
        try:
            if hasattr(select, "poll"):  # no FD_SETSIZE limit (busy pots have many fds)
                poller = select.poll()
                poller.register(sock, select.POLLIN | select.POLLPRI)
                return bool(poller.poll(0))
            readable, _, errored = select.select([sock], [], [sock], 0)
            return bool(readable or errored)
        except (OSError, ValueError):
            return True

    def _drop(self):
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _send_locked(self, line, deadline):
        if self._sock is not None and self._peer_closed(self._sock):
            self._drop()
        reused = self._sock is not None
        if self._write_line(line, deadline, connect=not reused):
            return True
        # A connection that was already open may have been closed by a node
        # restart: one fresh connection gets one more try.
        return reused and self._write_line(line, deadline, connect=True)

    def _write_line(self, line, deadline, connect):
        """Writes `line`, first opening a connection when `connect`. On a
        failed write the connection is closed: a partial line may be on the
        wire, and the node must discard it instead of gluing it to the next."""
        if connect:
            port = self.port if self.port is not None else event_port()
            self._sock = _connect(self.host, port, deadline)
            if self._sock is None:
                return False
        if _send_all(self._sock, line, deadline):
            return True
        self._drop()
        return False


class HoneyBeeOutput:
    """The HoneyBee integration guide's output-plugin class, kept
    source-compatible (same attributes and methods) but fixed: it connects to
    127.0.0.1 with a timeout, sends compact JSON with an always-valid
    timestamp and safe values, never prints or raises, and reports success.

    As in the guide, port, pot id and type are read once, when the object is
    created; assign the attributes to change them.
    """

    def __init__(self):
        self.port = event_port()
        self.pot_id = pot_id()
        self.pot_type = pot_type()

    def send_event(self, event_type, data=None):
        """Sends one event on its own connection; True when written."""
        return _send_once(event_type, data, {}, self.pot_id, self.pot_type, self.port)

    def start(self):
        """Called when the honeypot starts."""
        return self.send_event("honeypot.started", {})

    def stop(self):
        """Called when the honeypot stops."""
        return self.send_event("honeypot.stopped", {})
