"""Integrations written for the Python Honeycomb framework (integration.py with
IntegrationActionsClass) run unchanged: `integration test`, alerts from a C++
and from a Python service, retries on IntegrationSendEventError, polling."""
import os
import signal
import sys
import urllib.request

from conftest import SOURCE_DIR, free_port, pid_alive, read_json_lines, stop_process, wait_for, \
    wait_log_while_running

PLUGINS = SOURCE_DIR / "tests" / "e2e" / "python_plugins"
os.environ["HONEYCOMB_PYTHON"] = sys.executable


def install_integration(hc, name, *params):
    r = hc.run("integration", "install", PLUGINS / name)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"[+] {name} has been installed successfully (integration)" in r.stdout
    if params:
        r = hc.run("integration", "configure", name, *params)
        assert r.returncode == 0, r.stdout + r.stderr


def test_integration_test_command(hc, tmp_path):
    out = tmp_path / "out.json"
    install_integration(hc, "py_file_output", f"filepath={out}")
    r = hc.run("integration", "test", "py_file_output")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == f"[*] py_file_output test succeeded: can write to {out}"

    hc.run("integration", "configure", "py_file_output", "filepath=/nonexistent/dir/out.json", check=True)
    r = hc.run("integration", "test", "py_file_output")
    assert r.returncode == 1
    assert r.stderr.strip() == "[-] py_file_output test failed: cannot write to /nonexistent/dir"

    r = hc.run("integration", "show", "py_file_output")
    assert "Summary: Python JSON file output" in r.stdout


def test_alerts_from_a_cpp_service_with_retries_and_polling(hc, tmp_path):
    out = tmp_path / "out.json"
    install_integration(hc, "py_file_output", f"filepath={out}", "fail_first=2")
    hc.run("service", "install", "simple_http", check=True)
    port = free_port()
    proc = hc.spawn("service", "run", "simple_http", f"port={port}", "-i", "py_file_output")
    wait_log_while_running(hc, proc, lambda r: r.get("message") == "service is ready", what="service is ready")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/retry-me", timeout=10) as res:
        assert res.status == 200

    alerts = wait_for(lambda: read_json_lines(out), what="the alert, after two failed sends")
    # Polled once too early (IntegrationPollEventError), then done.
    wait_log_while_running(hc, proc, lambda r: r.get("message", "").startswith("poll_for_updates: ")
                           and "'status': 'done'" in r["message"], what="the poll result")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    alerts = read_json_lines(out)
    assert len(alerts) == 1
    assert alerts[0]["request"] == "GET /retry-me HTTP/1.1"
    assert alerts[0]["event_type"] == "simple_http"
    records = hc.log_records()
    written = [r for r in records if r.get("message") == f"wrote alert {alerts[0]['id']}"]
    assert len(written) == 1 and written[0]["name"] == "honeycomb.integration.py_file_output"
    assert written[0]["levelname"] == "DEBUG"
    poll = [r for r in records if r.get("message", "").startswith("poll_for_updates: ")]
    assert poll[0]["message"] == "poll_for_updates: {'alert_id': '%s', 'status': 'done'}" % alerts[0]["id"]


def test_python_service_to_python_integration(hc, tmp_path):
    out = tmp_path / "out.json"
    install_integration(hc, "py_file_output", f"filepath={out}")
    r = hc.run("service", "install", PLUGINS / "py_http")
    assert r.returncode == 0, r.stderr
    port = free_port()
    proc = hc.spawn("service", "run", "py_http", f"port={port}", "-i", "py_file_output")
    wait_log_while_running(hc, proc, lambda r: r.get("message") == "service is ready", what="service is ready")
    for i in range(5):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{i}", timeout=10) as res:
            assert res.status == 200
    wait_for(lambda: len(read_json_lines(out)) >= 5, what="5 alerts")
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err
    assert sorted(a["request"] for a in read_json_lines(out)) == [f"GET /{i} HTTP/1.1" for i in range(5)]
    # No Python process of the run is left.
    for line in os.popen("ps -eo pid,args").read().splitlines():
        if "honeycomb_child.py" in line and str(hc.home) in line:
            assert not pid_alive(int(line.split()[0])), line


def test_broken_integration_fails_the_run_with_its_error(hc):
    install_integration(hc, "py_broken_integration")
    hc.run("service", "install", "simple_http", check=True)
    r = hc.run("service", "run", "simple_http", f"port={free_port()}", "-i", "py_broken_integration")
    assert r.returncode == 1
    assert ("Error: integration py_broken_integration failed to start: ModuleNotFoundError: "
            "No module named 'honeycomb_missing_integration_dependency'") in r.stderr
    assert "Traceback (most recent call last)" in r.stderr
    r = hc.run("integration", "test", "py_broken_integration")
    assert r.returncode == 1
    assert "ModuleNotFoundError" in r.stderr
