"""`honeycomb --config honeycomb.yml`: installs, configures and runs what
the file lists; bad files are refused with a message naming them."""
import json
import signal
import subprocess

from conftest import free_port, read_json_lines, stop_process, wait_for, wait_log_while_running, wait_port_closed
from test_bad_plugins import assert_clean_failure


def write_config(tmp_path, port, alerts):
    path = tmp_path / "honeycomb.yml"
    path.write_text(f"""\
version: 1
services:
  simple_http:
    parameters: {{port: {port}}}
integrations:
  json_file:
    parameters: {{filepath: "{alerts}"}}
""")
    return path


def test_config_file_installs_configures_and_runs(hc, tmp_path):
    port = free_port()
    alerts = tmp_path / "alerts.json"
    config = write_config(tmp_path, port, alerts)
    proc = hc.spawn("--config", config)
    wait_log_while_running(hc, proc, lambda r: r.get("message") == f"Starting Simple HTTP service on port: {port}",
                           what="the Starting Simple HTTP record")
    wait_log_while_running(hc, proc, lambda r: r.get("message") == "service is ready", what="service is ready")

    assert (hc.home / "services" / "simple_http" / "config.json").is_file()
    assert (hc.home / "integrations" / "json_file" / "config.json").is_file()
    saved = json.loads((hc.home / "integrations" / "json_file" / ".args.json").read_text())
    assert saved["filepath"] == str(alerts)
    r = hc.run("service", "list")
    assert "simple_http (Ports: Undefined) [Alerts: simple_http]" in r.stdout.splitlines()

    for i in range(3):
        r = subprocess.run(["curl", "-s", "--max-time", "10", f"http://127.0.0.1:{port}/cfg{i}"],
                           capture_output=True, text=True, timeout=20)
        assert "Welcome to nginx!" in r.stdout
    wait_for(lambda: len(read_json_lines(alerts)) >= 3, what="3 alerts in the json file")

    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    wait_port_closed(port, timeout=5)
    got = read_json_lines(alerts)
    assert sorted(a["request"] for a in got) == [f"GET /cfg{i} HTTP/1.1" for i in range(3)]
    assert all(a["event_type"] == "simple_http" for a in got)
    messages = [r.get("message") for r in hc.log_records()]
    assert "Caught KeyboardInterrupt, shutting service down gracefully" in messages
    assert "Simple HTTP service stopped" in messages


def test_config_file_twice_reuses_installed_plugins(hc, tmp_path):
    """A second run with everything installed neither fails on EEXIST nor reinstalls."""
    alerts = tmp_path / "alerts.json"
    for _ in range(2):
        port = free_port()
        proc = hc.spawn("--config", write_config(tmp_path, port, alerts))
        wait_log_while_running(hc, proc,
                               lambda r, p=port: r.get("message") == f"Starting Simple HTTP service on port: {p}",
                               what="the Starting Simple HTTP record")
        code, _, err = stop_process(proc, signal.SIGINT)
        assert code == 0, err


def test_config_file_version_2(hc, tmp_path):
    path = tmp_path / "honeycomb.yml"
    path.write_text("version: 2\nservices:\n  simple_http:\n    parameters: {port: 1234}\n")
    r = hc.run("--config", path)
    assert_clean_failure(r)
    assert str(path) in r.stderr
    assert "version" in r.stderr
    assert not (hc.home / "services" / "simple_http").exists()


def test_config_file_bad_yaml(hc, tmp_path):
    path = tmp_path / "honeycomb.yml"
    path.write_text("version: 1\nservices: [simple_http\n  : {\n")
    r = hc.run("--config", path)
    assert_clean_failure(r)
    assert str(path) in r.stderr
    assert "YAML" in r.stderr


def test_config_file_missing(hc, tmp_path):
    path = tmp_path / "nope.yml"
    r = hc.run("--config", path)
    assert_clean_failure(r)
    assert str(path) in r.stderr


def test_config_file_bad_parameter(hc, tmp_path):
    path = tmp_path / "honeycomb.yml"
    path.write_text("version: 1\nservices:\n  simple_http:\n    parameters: {port: abc}\n")
    r = hc.run("--config", path)
    assert_clean_failure(r)
    assert "Parameters: Bad value for port=abc (must be integer)" in r.stderr


def test_config_file_not_a_mapping(hc, tmp_path):
    path = tmp_path / "honeycomb.yml"
    path.write_text("- just\n- a list\n")
    r = hc.run("--config", path)
    assert_clean_failure(r)
    assert str(path) in r.stderr


def test_config_file_version_not_a_scalar(hc, tmp_path):
    path = tmp_path / "honeycomb.yml"
    path.write_text("version: [1]\nservices:\n  simple_http:\n    parameters: {port: 1234}\n")
    r = hc.run("--config", path)
    assert_clean_failure(r)
    assert f"{path}: version: must be 1" in r.stderr


def test_config_file_unknown_service(hc, tmp_path):
    path = tmp_path / "honeycomb.yml"
    path.write_text("version: 1\nservices:\n  no_such_honeypot:\n    parameters: {port: 1234}\n")
    r = hc.run("--config", path)
    assert_clean_failure(r)
    assert f"{path}: services.no_such_honeypot:" in r.stderr
    assert not (hc.home / "services" / "no_such_honeypot").exists()


def test_config_file_integration_without_its_parameters(hc, tmp_path):
    path = tmp_path / "honeycomb.yml"
    port = free_port()
    path.write_text(f"version: 1\nservices:\n  simple_http:\n    parameters: {{port: {port}}}\n"
                    "integrations:\n  json_file:\n    parameters: {}\n")
    r = hc.run("--config", path)
    assert_clean_failure(r)
    assert f"{path}: integrations.json_file:" in r.stderr
    assert "Parameters: 'filepath' is missing" in r.stderr
