"""What a user sees for broken plugins and bad arguments: a clear message
naming the file, the key and the rule, exit code 1, no crash and nothing
installed or started."""
import copy
import json
import shutil

import pytest

from conftest import free_port, port_open, source_plugin

GOOD = json.loads((source_plugin("services", "simple_http") / "config.json").read_text())

CRASH_MARKERS = ("Traceback", "terminate called", "what():", "Segmentation fault", "Aborted", "core dumped",
                 "AddressSanitizer", "runtime error:")


def assert_clean_failure(r):
    """Exit code 1 (not a signal, not a crash) and no stack trace."""
    assert r.returncode == 1, f"exit code {r.returncode}\n{r.stdout}\n{r.stderr}"
    for marker in CRASH_MARKERS:
        assert marker not in r.stdout + r.stderr


def mutate(fn):
    def make():
        doc = copy.deepcopy(GOOD)
        fn(doc)
        return doc
    return make


def set_in(path, value):
    def fn(doc):
        target = doc
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value
    return fn


def delete(key):
    def fn(doc):
        del doc[key]
    return fn


# (case id, how to make the config.json text, the key named, words of the rule)
CASES = [
    ("missing_service", mutate(delete("service")), "service", "is required"),
    ("missing_event_types", mutate(delete("event_types")), "event_types", "is required"),
    ("bad_os_family", mutate(set_in(["service", "supported_os_families"], "Solaris")),
     "service.supported_os_families", "must be one of Linux, Windows, Darwin, All"),
    ("bad_port_protocol", mutate(set_in(["service", "ports"], [{"protocol": "SCTP", "port": 80}])),
     "service.ports[0].protocol", "must be TCP or UDP"),
    ("unknown_alert_field", mutate(set_in(["event_types", 0, "fields"], ["originating_ip", "shoe_size"])),
     "event_types[0].fields[1]", "'shoe_size' is not a known alert field"),
    ("bad_policy", mutate(set_in(["event_types", 0, "policy"], "Shout")),
     "event_types[0].policy", "must be one of Ignore, Mute, Alert"),
    ("bad_parameter_name", mutate(set_in(["parameters", 0, "value"], "1port")),
     "parameters[0].value", "is not a valid parameter name"),
    ("bad_parameter_name_underscore", mutate(set_in(["parameters", 0, "value"], "_port")),
     "parameters[0].value", "is not a valid parameter name"),
    ("bad_parameter_type", mutate(set_in(["parameters", 0, "type"], "float")),
     "parameters[0].type", "must be one of"),
    ("bad_parameter_key", mutate(set_in(["parameters", 0, "colour"], "red")),
     "parameters[0].colour", "is not an allowed parameter key"),
    ("default_not_matching_type", mutate(set_in(["parameters", 2, "default"], "yes")),
     "parameters[2].default", "default value must match the parameter type 'boolean'"),
    ("integer_default_as_text", mutate(set_in(["parameters", 0, "default"], "8080")),
     "parameters[0].default", "default value must match the parameter type 'integer'"),
]


def write_plugin(tmp_path, name, text):
    folder = tmp_path / "plugins" / name
    shutil.copytree(source_plugin("services", "simple_http"), folder)
    (folder / "config.json").write_text(text)
    return folder


@pytest.mark.parametrize("case,make,key,rule", CASES, ids=[c[0] for c in CASES])
def test_bad_config_is_refused(hc, tmp_path, case, make, key, rule):
    folder = write_plugin(tmp_path, "simple_http", json.dumps(make(), indent=2))
    r = hc.run("service", "install", folder)
    assert_clean_failure(r)
    config = str(folder / "config.json")
    assert config in r.stderr
    assert key in r.stderr
    assert rule in r.stderr
    # The message is one line "<file>: <key>: <rule>".
    assert any(line.find(config) >= 0 and line.find(key) > line.find(config) and line.find(rule) > line.find(key)
               for line in r.stderr.splitlines()), r.stderr
    assert not (hc.home / "services" / "simple_http").exists()
    r = hc.run("service", "list")
    assert "You do not have any services installed" in r.stdout


@pytest.mark.parametrize("text,rule", [
    ('{"service": {"name": "simple_http",', "is not valid JSON"),
    ("", "is not valid JSON"),
    ("[1, 2, 3]", "must contain a JSON object"),
    ('"just a string"', "must contain a JSON object"),
], ids=["truncated", "empty", "list", "string"])
def test_unparsable_config(hc, tmp_path, text, rule):
    folder = write_plugin(tmp_path, "simple_http", text)
    r = hc.run("service", "install", folder)
    assert_clean_failure(r)
    assert str(folder / "config.json") in r.stderr
    assert rule in r.stderr
    assert not (hc.home / "services" / "simple_http").exists()


def test_folder_without_config(hc, tmp_path):
    folder = tmp_path / "plugins" / "empty_plugin"
    folder.mkdir(parents=True)
    r = hc.run("service", "install", folder)
    assert_clean_failure(r)
    assert str(folder / "config.json") in r.stderr
    assert not (hc.home / "services" / "empty_plugin").exists()


def test_bad_integration_config(hc, tmp_path):
    folder = tmp_path / "plugins" / "json_file"
    shutil.copytree(source_plugin("integrations", "json_file"), folder)
    doc = json.loads((folder / "config.json").read_text())
    doc["integration_type"] = "event_input"
    (folder / "config.json").write_text(json.dumps(doc))
    r = hc.run("integration", "install", folder)
    assert_clean_failure(r)
    assert str(folder / "config.json") in r.stderr
    assert "integration_type" in r.stderr
    assert "must be event_output" in r.stderr
    assert not (hc.home / "integrations" / "json_file").exists()


# ---- bad run arguments ----

@pytest.fixture
def installed(hc):
    hc.run("service", "install", "simple_http", check=True)
    return hc


@pytest.mark.parametrize("args,message", [
    (["port=abc"], "Parameters: Bad value for port=abc (must be integer)"),
    (["port=8080", "threading=maybe"], "Parameters: Bad value for threading=maybe (must be boolean)"),
    ([], "Parameters: 'port' is missing (use --show_args to see all parameters)"),
    (["version=Foo"], "Parameters: 'port' is missing (use --show_args to see all parameters)"),
    (["foo"], "Invalid parameter 'foo', must be in key=value format"),
    (["=8080"], "Invalid parameter '=8080', must be in key=value format"),
], ids=["not_integer", "not_boolean", "missing", "missing_with_others", "no_equals", "no_key"])
def test_bad_run_arguments(installed, args, message):
    hc = installed
    r = hc.run("service", "run", "simple_http", *args)
    assert_clean_failure(r)
    assert message in r.stderr
    assert not (hc.home / "services" / "simple_http.pid").exists()
    # Nothing was saved as the run's parameters.
    assert not (hc.home / "services" / "simple_http" / ".args.json").exists()


def test_bad_daemon_arguments(installed):
    hc = installed
    r = hc.run("service", "run", "-d", "simple_http", "port=abc")
    assert_clean_failure(r)
    assert "Parameters: Bad value for port=abc (must be integer)" in r.stderr
    assert not (hc.home / "services" / "simple_http.pid").exists()


def test_run_not_installed(hc):
    r = hc.run("service", "run", "simple_http", "port=8080")
    assert_clean_failure(r)
    assert "simple_http" in r.stderr and "not installed" in r.stderr


# ---- integrations ----

def test_configure_bad_select_value(hc):
    hc.run("integration", "install", "syslog", check=True)
    r = hc.run("integration", "configure", "syslog", "protocol=ftp", "address=127.0.0.1", "port=514")
    assert_clean_failure(r)
    assert "Parameters: Bad value for protocol=ftp (must be one of: tcp, udp)" in r.stderr
    assert not (hc.home / "integrations" / "syslog" / ".args.json").exists()


def test_configure_out_of_range(hc):
    hc.run("integration", "install", "syslog", check=True)
    r = hc.run("integration", "configure", "syslog", "protocol=tcp", "address=127.0.0.1", "port=70000")
    assert_clean_failure(r)
    assert "Parameters: Bad value for port=70000 (must be lower than 65535)" in r.stderr


def test_configure_missing_required(hc):
    hc.run("integration", "install", "json_file", check=True)
    r = hc.run("integration", "configure", "json_file")
    assert_clean_failure(r)
    assert "Parameters: 'filepath' is missing (use --show_args to see all parameters)" in r.stderr
    assert not (hc.home / "integrations" / "json_file" / ".args.json").exists()


def test_configure_not_installed(hc):
    r = hc.run("integration", "configure", "json_file", "filepath=/tmp/x.json")
    assert_clean_failure(r)
    assert "[-] doh! I cannot seem to find `json_file`, are you sure it's installed?" in r.stderr


def test_run_with_integration_not_installed(installed):
    hc = installed
    port = free_port()
    r = hc.run("service", "run", "simple_http", f"port={port}", "-i", "syslog")
    assert_clean_failure(r)
    assert "syslog" in r.stderr and "not installed" in r.stderr
    assert not port_open(port)


def test_run_with_integration_not_configured(installed):
    hc = installed
    hc.run("integration", "install", "json_file", check=True)
    port = free_port()
    r = hc.run("service", "run", "simple_http", f"port={port}", "-i", "json_file")
    assert_clean_failure(r)
    assert "json_file is not configured" in r.stderr
    assert "honeycomb integration configure json_file" in r.stderr
    assert not port_open(port)
    r = hc.run("service", "run", "-d", "simple_http", f"port={port}", "-i", "json_file")
    assert_clean_failure(r)
    assert "json_file is not configured" in r.stderr
    assert not (hc.home / "services" / "simple_http.pid").exists()
