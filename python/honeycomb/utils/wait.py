"""wait_until and search_json_log, as the reference framework's tests use them."""
import json
import time


class TimeoutException(Exception):
    """The condition did not hold in time."""


def wait_until(func, check_return_value=True, total_timeout=60, interval=0.5, exc_list=None,
               error_message="", *args, **kwargs):
    """Calls func(*args, **kwargs) until it returns a truthy value (or, without
    check_return_value, until it does not raise one of exc_list)."""
    deadline = time.monotonic() + total_timeout
    while True:
        try:
            value = func(*args, **kwargs)
            if not check_return_value or value:
                return value
        except Exception as exc:  # noqa: BLE001 - the caller chose which to tolerate
            if not exc_list or not any(isinstance(exc, e) for e in exc_list):
                raise
        if time.monotonic() >= deadline:
            raise TimeoutException(error_message or "timed out waiting for {}".format(func))
        time.sleep(interval)


def search_json_log(filepath, key, value):
    """The first JSON-lines record of `filepath` whose `key` equals `value`, or False."""
    try:
        with open(filepath, "r") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get(key) == value:
                    return record
    except OSError:
        pass
    return False
