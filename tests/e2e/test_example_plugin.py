"""The out-of-tree example plugin (examples/hello_banner) builds against the
*installed* SDK, installs as a folder holding <name>_service.so, and runs
like a built-in service with its alerts reaching json_file."""
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from conftest import SOURCE_DIR, free_port, read_json_lines, wait_for

BUILD_DIR = Path(os.environ.get("HONEYCOMB_BUILD_DIR", SOURCE_DIR / "build"))


def run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout}\n{r.stderr}"
    return r


def build_example(tmp_path):
    prefix = tmp_path / "prefix"
    run(["cmake", "--install", BUILD_DIR, "--prefix", prefix])
    assert (prefix / "include/honeycomb/service.hpp").exists()
    build = tmp_path / "example-build"
    args = ["cmake", "-S", SOURCE_DIR / "examples/hello_banner", "-B", build, "-G", "Ninja",
            f"-DCMAKE_PREFIX_PATH={prefix}"]
    if shutil.which("ccache"):
        args.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
    # The plugin must be built with the same sanitizer settings as the host
    # that loads it, or the ASan runtime refuses the mix.
    if (BUILD_DIR / "CMakeCache.txt").read_text().find("HONEYCOMB_SANITIZE:BOOL=ON") >= 0:
        args.append("-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer")
        args.append("-DCMAKE_MODULE_LINKER_FLAGS=-fsanitize=address,undefined")
    run(args)
    run(["cmake", "--build", build])
    out = tmp_path / "plugin"
    run(["cmake", "--install", build, "--prefix", out])
    folder = out / "hello_banner"
    assert (folder / "hello_banner_service.so").exists()
    assert (folder / "config.json").exists()
    return folder


def test_out_of_tree_plugin_builds_installs_and_alerts(hc, tmp_path):
    folder = build_example(tmp_path)
    r = hc.run("service", "install", folder)
    assert r.returncode == 0, r.stderr
    assert "hello_banner (Ports: Undefined) [Alerts: banner_connection]" in hc.run("service", "list").stdout

    alerts = tmp_path / "alerts.json"
    hc.run("integration", "install", "json_file", check=True)
    hc.run("integration", "configure", "json_file", f"filepath={alerts}", check=True)
    port = free_port()
    proc = hc.spawn("service", "run", "hello_banner", f"port={port}", "-i", "json_file")
    hc.wait_log(lambda r: r.get("message") == "service is ready", what="service is ready")

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        greeting = s.recv(256)
        assert greeting == b"SSH-2.0-OpenSSH_8.4p1 Debian-5\r\n"
        s.sendall(b"SSH-2.0-libssh_0.9.6\r\n")
        s.shutdown(socket.SHUT_WR)
        s.recv(16)

    lines = wait_for(lambda: read_json_lines(alerts), what="the plugin's alert in json_file")
    assert len(lines) == 1
    alert = lines[0]
    assert alert["event_type"] == "banner_connection"
    assert alert["service"] == "hello_banner"
    assert alert["request"] == "SSH-2.0-libssh_0.9.6"
    assert alert["originating_ip"] == "127.0.0.1"
    assert isinstance(alert["originating_port"], int)

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    messages = [r.get("message") for r in hc.log_records()]
    assert "hello_banner stopped" in messages


def test_plugin_built_for_another_abi_is_refused(hc, tmp_path):
    folder = tmp_path / "fake"
    folder.mkdir()
    config = (SOURCE_DIR / "examples/hello_banner/config.json").read_text().replace('"hello_banner"', '"fake"')
    (folder / "config.json").write_text(config)
    (folder / "fake_service.so").write_text("not an ELF file")
    assert hc.run("service", "install", folder).returncode == 0
    r = hc.run("service", "run", "fake", "port=1")
    assert r.returncode == 1
    assert "cannot load" in r.stderr and "fake_service.so" in r.stderr
