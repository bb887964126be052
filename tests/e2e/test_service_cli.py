"""`honeycomb service ...` management commands, as a user types them: install
(library name, folder, zip), list, show, uninstall, status, --show-args, and
the refusal to run as root."""
import os
import shutil
import zipfile

from conftest import source_plugin

NOTHING_INSTALLED = "[*] You do not have any services installed, try installing one with `honeycomb service install`"
SIMPLE_HTTP_LINE = "simple_http (Ports: Undefined) [Alerts: simple_http]"


def out(r):
    return r.stdout + r.stderr


def test_list_with_nothing_installed(hc):
    r = hc.run("service", "list")
    assert r.returncode == 0, out(r)
    assert r.stdout.strip() == NOTHING_INSTALLED


def test_install_from_library_and_again(hc):
    r = hc.run("service", "install", "simple_http")
    assert r.returncode == 0, out(r)
    assert (hc.home / "services" / "simple_http" / "config.json").is_file()

    r = hc.run("service", "install", "simple_http")
    assert r.returncode == 17, out(r)
    assert "simple_http is already installed" in out(r)


def test_install_unknown_name_fails(hc):
    r = hc.run("service", "install", "no_such_service_anywhere")
    assert r.returncode == 1, out(r)
    assert "no_such_service_anywhere" in r.stderr
    assert not (hc.home / "services" / "no_such_service_anywhere").exists()


def test_list_line_format(hc):
    hc.run("service", "install", "simple_http", check=True)
    r = hc.run("service", "list")
    assert r.returncode == 0, out(r)
    lines = r.stdout.splitlines()
    assert lines[0] == "[*] Installed services:"
    assert SIMPLE_HTTP_LINE in lines[1:]


def test_list_remote_shows_library(hc):
    r = hc.run("service", "list", "--remote")
    assert r.returncode == 0, out(r)
    # Nothing installed yet, but the library's services are listed.
    assert NOTHING_INSTALLED in r.stdout
    assert "simple_http" in [line.split(" ")[0] for line in r.stdout.splitlines()]
    r = hc.run("service", "list", "-r")
    assert r.returncode == 0, out(r)
    assert "simple_http" in r.stdout


def test_show_installed_and_library(hc):
    # Not installed: the library's copy, Installed: False.
    r = hc.run("service", "show", "simple_http")
    assert r.returncode == 0, out(r)
    assert "Name: simple_http" in r.stdout.splitlines()
    assert "Installed: False" in r.stdout.splitlines()

    hc.run("service", "install", "simple_http", check=True)
    r = hc.run("service", "show", "simple_http")
    assert r.returncode == 0, out(r)
    lines = r.stdout.splitlines()
    keys = [line.split(":", 1)[0] for line in lines]
    assert keys == ["Name", "Installed", "Version", "Summary", "Location", "Requires"], r.stdout
    assert lines[0] == "Name: simple_http"
    assert lines[1] == "Installed: True"
    assert lines[2].startswith("Version: ") and " Updated: " in lines[2]
    assert lines[3] == "Summary: Simple HTTP Server"
    assert lines[4] == f"Location: {hc.home / 'services' / 'simple_http'}"
    assert lines[5].startswith("Requires:")


def test_show_unknown_fails(hc):
    r = hc.run("service", "show", "nosuch")
    assert r.returncode != 0
    assert "nosuch" in r.stderr
    assert "Name:" not in r.stdout


def copy_simple_http(tmp_path, name="simple_http"):
    dest = tmp_path / "src" / name
    shutil.copytree(source_plugin("services", "simple_http"), dest)
    return dest


def test_install_from_folder(hc, tmp_path):
    folder = copy_simple_http(tmp_path)
    r = hc.run("service", "install", folder)
    assert r.returncode == 0, out(r)
    assert (hc.home / "services" / "simple_http" / "config.json").is_file()
    assert SIMPLE_HTTP_LINE in hc.run("service", "list").stdout.splitlines()
    # The source folder is copied, not moved.
    assert (folder / "config.json").is_file()
    r = hc.run("service", "install", str(folder) + "/")
    assert r.returncode == 17, out(r)
    assert "simple_http is already installed" in out(r)


def test_install_from_zip_with_folder(hc, tmp_path):
    folder = copy_simple_http(tmp_path)
    archive = tmp_path / "simple_http.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in folder.rglob("*"):
            z.write(f, f.relative_to(folder.parent))
    r = hc.run("service", "install", archive)
    assert r.returncode == 0, out(r)
    assert (hc.home / "services" / "simple_http" / "config.json").is_file()
    assert SIMPLE_HTTP_LINE in hc.run("service", "list").stdout.splitlines()


def test_install_from_flat_zip(hc, tmp_path):
    folder = copy_simple_http(tmp_path)
    archive = tmp_path / "simple_http.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in folder.rglob("*"):
            z.write(f, f.relative_to(folder))
    r = hc.run("service", "install", archive)
    assert r.returncode == 0, out(r)
    assert SIMPLE_HTTP_LINE in hc.run("service", "list").stdout.splitlines()


def test_install_from_broken_zip_fails(hc, tmp_path):
    archive = tmp_path / "simple_http.zip"
    archive.write_bytes(b"this is not a zip file")
    r = hc.run("service", "install", archive)
    assert r.returncode == 1, out(r)
    assert str(archive) in r.stderr
    assert hc.run("service", "list").stdout.strip() == NOTHING_INSTALLED


def test_uninstall_with_yes(hc):
    hc.run("service", "install", "simple_http", check=True)
    r = hc.run("service", "uninstall", "--yes", "simple_http")
    assert r.returncode == 0, out(r)
    assert not (hc.home / "services" / "simple_http").exists()
    assert hc.run("service", "list").stdout.strip() == NOTHING_INSTALLED


def test_uninstall_asks_and_respects_the_answer(hc):
    hc.run("service", "install", "simple_http", check=True)
    question = "[?] Are you sure you want to delete `simple_http` from honeycomb?"

    r = hc.run("service", "uninstall", "simple_http", input="n\n")
    assert question in r.stdout
    assert r.returncode != 0, out(r)
    assert (hc.home / "services" / "simple_http" / "config.json").is_file()
    assert SIMPLE_HTTP_LINE in hc.run("service", "list").stdout.splitlines()

    # No answer at all (stdin closed) is a "no" too.
    r = hc.run("service", "uninstall", "simple_http", input="")
    assert r.returncode != 0, out(r)
    assert (hc.home / "services" / "simple_http" / "config.json").is_file()

    r = hc.run("service", "uninstall", "simple_http", input="y\n")
    assert question in r.stdout
    assert r.returncode == 0, out(r)
    assert not (hc.home / "services" / "simple_http").exists()


def test_uninstall_missing(hc):
    r = hc.run("service", "uninstall", "--yes", "x")
    assert r.returncode != 0
    assert "[-] doh! I cannot seem to find `x`, are you sure it's installed?" in out(r)


def test_show_args_table(hc):
    hc.run("service", "install", "simple_http", check=True)
    for flag in ("--show-args", "-a"):
        r = hc.run("service", "run", "simple_http", flag)
        assert r.returncode == 0, out(r)
        lines = r.stdout.splitlines()
        header = "{:20} {:10} {:^15} {:^10} {:25}".format("NAME", "TYPE", "DEFAULT", "REQUIRED", "DESCRIPTION")
        assert lines[0] == header
        assert lines[1] == "-" * len(header)
        assert lines[2] == "{:20} {:10} {:^15} {:^10} {:25}".format("port", "integer", "", "True", "Listening Port")
        assert lines[3] == "{:20} {:10} {:^15} {:^10} {:25}".format("version", "text", "nginx", "True",
                                                                       "Server version (header)")
        assert lines[4] == "{:20} {:10} {:^15} {:^10} {:25}".format("threading", "boolean", "False", "True",
                                                                       "Enable threading support")
        # --show-args does not run anything.
        assert not (hc.home / "services" / "simple_http.pid").exists()


def test_status_usage_error(hc):
    r = hc.run("service", "status")
    assert r.returncode == 2, out(r)
    assert "You must specify a service name or use --show-all" in out(r)


def test_status_of_unknown_and_idle(hc):
    r = hc.run("service", "status", "x")
    assert r.returncode == 0, out(r)
    assert r.stdout.splitlines() == ["x - no such service"]
    hc.run("service", "install", "simple_http", check=True)
    r = hc.run("service", "status", "simple_http", "x")
    assert r.stdout.splitlines() == ["simple_http - not running", "x - no such service"]
    r = hc.run("service", "status", "--show-all")
    assert r.stdout.splitlines() == ["simple_http - not running"]


def test_root_is_refused_without_iamroot(hc):
    r = hc.run("service", "list", root_flag=False)
    if os.geteuid() == 0:
        assert r.returncode != 0
        assert "--iamroot" in r.stderr
        assert "setcap cap_net_bind_service" in r.stderr
        assert "Installed services" not in r.stdout and "You do not have" not in r.stdout
        # Nothing was created in the home folder either.
        assert not (hc.home / "services").exists()
    else:
        assert r.returncode == 0, out(r)
        assert r.stdout.strip() == NOTHING_INSTALLED


def test_version_and_help(hc):
    r = hc.run("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("honeycomb ")
    r = hc.run("service", "--help")
    assert r.returncode == 0
    for command in ("install", "uninstall", "list", "show", "run", "stop", "status", "logs", "test"):
        assert command in r.stdout


def test_install_uses_the_service_name_not_the_folder_name(hc, tmp_path):
    """A service is installed under its config.json's service.name, so that
    run/status/stop/uninstall all agree on the name."""
    folder = copy_simple_http(tmp_path, name="simple_http-master")
    r = hc.run("service", "install", folder)
    assert r.returncode == 0, out(r)
    assert (hc.home / "services" / "simple_http" / "config.json").is_file()
    assert not (hc.home / "services" / "simple_http-master").exists()
    assert hc.run("service", "list").stdout.splitlines()[1:] == [SIMPLE_HTTP_LINE]
    assert hc.run("service", "status", "simple_http").stdout.splitlines() == ["simple_http - not running"]

    # The same service from a zip file with another name is already installed.
    archive = tmp_path / "download (1).zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in folder.rglob("*"):
            z.write(f, f.relative_to(folder))
    r = hc.run("service", "install", archive)
    assert r.returncode == 17, out(r)
    assert "simple_http is already installed" in out(r)

    r = hc.run("service", "uninstall", "-y", "simple_http")
    assert r.returncode == 0, out(r)
    r = hc.run("service", "install", archive)
    assert r.returncode == 0, out(r)
    assert hc.run("service", "list").stdout.splitlines()[1:] == [SIMPLE_HTTP_LINE]
