"""`service install` of Python plugins with a requirements.txt: pip into the
plugin's .deps folder when it can; without a package index (PIP_NO_INDEX
here, so the outcome does not depend on the network), a report of what is
missing and what the system already provides."""
import base64
import hashlib
import os
import shutil
import signal
import sys
import time
import zipfile

from conftest import SOURCE_DIR, read_json_lines, stop_process, wait_for, wait_log_while_running

PLUGINS = SOURCE_DIR / "tests" / "e2e" / "python_plugins"
os.environ["HONEYCOMB_PYTHON"] = sys.executable
OFFLINE = dict(os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS="")


def run_env(hc, env, *args, timeout=120):
    import subprocess
    return subprocess.run(hc.argv(*args), capture_output=True, text=True, timeout=timeout, env=env)


def test_missing_requirement_is_reported_quickly(hc):
    began = time.monotonic()
    r = run_env(hc, OFFLINE, "service", "install", PLUGINS / "py_missing_req")
    took = time.monotonic() - began
    assert r.returncode == 0, r.stdout + r.stderr
    assert took < 30, f"install took {took:.1f}s"
    lines = r.stdout.splitlines()
    assert lines[0] == "[+] py_missing_req has been installed successfully (service)"
    folder = hc.home / "services" / "py_missing_req"
    assert lines[1] == ("[-] pip could not install the requirements of py_missing_req (no package index reachable?); "
                        f"see {folder}/.pip.log")
    assert lines[2].startswith("[-] honeycomb-no-such-module-xyz==1.0: missing (module honeycomb_no_such_module_xyz "
                               "is not importable)")
    assert lines[3] == "[-] py_missing_req will fail to start until its 1 missing requirement is installed"
    assert (folder / ".pip.log").read_text()

    r = hc.run("service", "run", "py_missing_req", timeout=30)
    assert r.returncode == 1
    assert "ModuleNotFoundError: No module named 'honeycomb_no_such_module_xyz'" in r.stderr
    assert "Traceback (most recent call last)" in r.stderr
    r = hc.run("service", "show", "py_missing_req")
    assert "Requires: honeycomb-no-such-module-xyz==1.0" in r.stdout


def test_requirement_provided_by_the_system(hc, tmp_path):
    r = run_env(hc, OFFLINE, "service", "install", PLUGINS / "py_system_req")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[2].startswith("[*] PyYAML>=5: already importable from the system (module yaml, version "), lines
    assert lines[3] == "[*] every requirement of py_system_req is importable: it can run"

    hc.run("integration", "install", "json_file", check=True)
    out = tmp_path / "alerts.json"
    hc.run("integration", "configure", "json_file", f"filepath={out}", check=True)
    proc = hc.spawn("service", "run", "py_system_req", "-i", "json_file")
    wait_log_while_running(hc, proc, lambda r: r.get("message") == "service is ready", what="service is ready")
    alerts = wait_for(lambda: read_json_lines(out), what="the alert")
    assert alerts[0]["request"] == "yaml: works"
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err


def make_wheel(folder, name="hc_wheel_demo", version="1.0"):
    """A minimal pure-Python wheel, as `pip wheel` would build it."""
    files = {
        f"{name}/__init__.py": b'VALUE = "from the wheel"\n',
        f"{name}-{version}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: honeycomb-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
    return wheel


def test_pip_installs_requirements_into_the_plugin_folder(hc, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels)
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels))
    r = run_env(hc, env, "service", "install", PLUGINS / "py_wheel_req")
    assert r.returncode == 0, r.stdout + r.stderr
    deps = hc.home / "services" / "py_wheel_req" / ".deps"
    assert r.stdout.splitlines()[1] == f"[+] installed the requirements of py_wheel_req into {deps}"
    assert (deps / "hc_wheel_demo" / "__init__.py").exists()

    hc.run("integration", "install", "json_file", check=True)
    out = tmp_path / "alerts.json"
    hc.run("integration", "configure", "json_file", f"filepath={out}", check=True)
    proc = hc.spawn("service", "run", "py_wheel_req", "-i", "json_file")
    alerts = wait_for(lambda: read_json_lines(out) or (proc.poll() is not None and proc.communicate()),
                      what="the alert")
    assert alerts[0]["request"] == f"from the wheel from {deps}/hc_wheel_demo/__init__.py"
    code, _, err = stop_process(proc, signal.SIGINT)
    assert code == 0, err

    # The plugin's own copy is what runs: the source folder was not touched.
    assert not (PLUGINS / "py_wheel_req" / ".deps").exists()
    shutil.rmtree(wheels)
