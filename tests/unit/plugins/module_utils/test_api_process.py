"""api/process.py: the API service as a background gunicorn process, and its catalog entry.

The process tests start a real gunicorn serving the app (auth none, a SQLite
journal in tmp_path) on a free 127.0.0.1 port; nothing of the cloud is used.
The catalog tests use the FakeCloud's identity API.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.api.process import (
    ApiProcessError,
    ApiSettings,
    catalog_changes,
    check_settings,
    log_tail,
    register_in_catalog,
    running,
    start,
    stop,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import API_START_FAILURE_MARK
from fakes import FakeCloud

COLLECTIONS = next(path for path in sys.path  # tests/unit/conftest.py puts it there
                   if os.path.isdir(os.path.join(path, "ansible_collections", "fenix", "maintenance")))
URL = "http://192.0.2.10:12347/v1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_in(tmp_path, **changes) -> ApiSettings:
    values = dict(collections_path=COLLECTIONS, run_dir=str(tmp_path / "run"),
                  journal=str(tmp_path / "journal.sqlite"), bind="127.0.0.1:%d" % free_port(), auth="none",
                  workers=1, threads=2)
    values.update(changes)
    return ApiSettings(**values)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def write_state(settings: ApiSettings, pid: int) -> None:
    os.makedirs(settings.run_dir, exist_ok=True)
    with open(settings.state_file, "w") as handle:
        json.dump({"pid": pid, "fingerprint": settings.fingerprint}, handle)


# ------------------------------------------------------------------ settings


def test_valid_settings_pass(tmp_path):
    assert check_settings(settings_in(tmp_path)) is None
    assert check_settings(settings_in(tmp_path, auth="keystone", cloud="fenix-admin")) is None


@pytest.mark.parametrize("changes, message", [
    ({"collections_path": "/nonexistent"},
     r"^collections_path: /nonexistent has no ansible_collections/fenix/maintenance"),
    ({"auth": "basic"}, r"^auth_mode: 'basic' is not keystone or none$"),
    ({"auth": "keystone"}, r"^cloud: the service needs credentials"),
    ({"bind": "127.0.0.1"}, r"^bind: '127.0.0.1' is not HOST:PORT$"),
    ({"bind": ":8080"}, r"^bind: ':8080' is not HOST:PORT$"),
    ({"bind": "127.0.0.1:0"}, r"^bind: '127.0.0.1:0' is not HOST:PORT$"),
    ({"bind": "127.0.0.1:65536"}, r"^bind: '127.0.0.1:65536' is not HOST:PORT$"),
    ({"bind": "127.0.0.1:http"}, r"^bind: '127.0.0.1:http' is not HOST:PORT$"),
    ({"python": "/nonexistent/python3"}, r"^python: cannot run /nonexistent/python3: "),
    ({"auth": "keystone", "cloud": "fenix-admin", "policy_file": "/nonexistent/policy.yaml"},
     r"^policy_file: /nonexistent/policy.yaml is not a file; give the path of a YAML policy file"),
    ({"policy_file": __file__}, r"^policy_file: auth_mode none checks nobody, so the policy would not apply"),
])
def test_check_settings_names_the_field(tmp_path, changes, message):
    with pytest.raises(ApiProcessError, match=message):
        check_settings(settings_in(tmp_path, **changes))


def test_a_python_without_the_libraries_is_named_with_what_to_install(tmp_path):
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho gunicorn jsonschema\n")  # what the probe prints: the missing ones
    python.chmod(0o755)
    with pytest.raises(ApiProcessError) as raised:
        check_settings(settings_in(tmp_path, python=str(python)))
    assert str(raised.value) == "python: %s lacks gunicorn, jsonschema; pip install gunicorn jsonschema" % python


def test_keystone_mode_needs_keystonemiddleware_and_oslo_policy(tmp_path):
    python = tmp_path / "python"
    # What the probe prints: the missing ones, here those of the keystone mode when it asks for them.
    python.write_text('#!/bin/sh\ncase "$2" in *oslo_policy*) echo keystonemiddleware oslo_policy;; esac\n')
    python.chmod(0o755)
    assert check_settings(settings_in(tmp_path, python=str(python))) is None
    with pytest.raises(ApiProcessError) as raised:
        check_settings(settings_in(tmp_path, python=str(python), auth="keystone", cloud="fenix-admin"))
    assert str(raised.value) == ("python: %s lacks keystonemiddleware, oslo_policy; pip install keystonemiddleware"
                                 " oslo_policy" % python)


def test_nothing_starts_on_invalid_settings(tmp_path):
    settings = settings_in(tmp_path, bind="nowhere")
    with pytest.raises(ApiProcessError, match="^bind:"):
        start(settings)
    assert not os.path.exists(settings.run_dir)


def test_command_and_environment(tmp_path):
    settings = settings_in(tmp_path, auth="keystone", cloud="fenix-api", clouds_yaml="/etc/fenix/clouds.yaml",
                           token_ttl=60, extra_env={"EXTRA": "1"})
    command = settings.command()
    assert command[:3] == [sys.executable, "-m", "gunicorn"]
    assert command[command.index("--bind") + 1] == settings.bind
    assert command[command.index("--pythonpath") + 1] == COLLECTIONS
    assert command[command.index("--error-logfile") + 1] == str(tmp_path / "run" / "api.log")
    assert command[-1].endswith("api.app:create_app()")
    # Under gunicorn's 2 s: a stop does not wait that long for a VNFM's idle connection.
    assert command[command.index("--keep-alive") + 1] == "1"
    env = settings.environment()
    assert (env["FENIX_JOURNAL"], env["FENIX_API_AUTH"], env["FENIX_API_TOKEN_TTL"]) == (
        str(tmp_path / "journal.sqlite"), "keystone", "60")
    assert (env["FENIX_API_CLOUD"], env["OS_CLIENT_CONFIG_FILE"], env["EXTRA"]) == (
        "fenix-api", "/etc/fenix/clouds.yaml", "1")
    assert "FENIX_API_CLOUD" not in settings_in(tmp_path).environment()
    assert "FENIX_API_POLICY_FILE" not in env and "FENIX_API_TOKEN_CACHE" not in env
    kept = settings_in(tmp_path, auth="keystone", cloud="fenix-api", token_cache="/home/op/.cache/tokens")
    assert kept.environment()["FENIX_API_TOKEN_CACHE"] == "/home/op/.cache/tokens"
    policy = settings_in(tmp_path, auth="keystone", cloud="fenix-api", policy_file="/etc/fenix/policy.yaml")
    assert policy.environment()["FENIX_API_POLICY_FILE"] == "/etc/fenix/policy.yaml"


def test_fingerprint_changes_with_any_setting(tmp_path):
    settings = settings_in(tmp_path, bind="127.0.0.1:12347")
    same = settings_in(tmp_path, bind="127.0.0.1:12347")
    assert settings.fingerprint == same.fingerprint
    assert settings.fingerprint != settings_in(tmp_path, bind="127.0.0.1:12347", workers=2).fingerprint
    assert settings.fingerprint != settings_in(tmp_path, bind="127.0.0.1:12348").fingerprint


# ------------------------------------------------------------------ state file


def test_no_state_file_is_nothing_running(tmp_path):
    settings = settings_in(tmp_path)
    assert running(settings) is None
    assert stop(settings) is False


def test_an_unreadable_state_file_is_nothing_running(tmp_path):
    settings = settings_in(tmp_path)
    os.makedirs(settings.run_dir)
    with open(settings.state_file, "w") as handle:
        handle.write("{not json")
    assert running(settings) is None


def test_stop_of_a_dead_pid_removes_the_state_file(tmp_path):
    settings = settings_in(tmp_path)
    write_state(settings, dead_pid())
    assert running(settings) is None
    assert stop(settings) is False
    assert not os.path.exists(settings.state_file)


def test_stop_of_a_live_process_ends_it(tmp_path):
    settings = settings_in(tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    write_state(settings, sleeper.pid)
    assert running(settings)["pid"] == sleeper.pid
    assert stop(settings, timeout=10) is True
    assert not alive(sleeper.pid)  # reaped by stop: Popen cannot tell how it ended
    assert not os.path.exists(settings.state_file)


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path):
    settings = settings_in(tmp_path)
    stubborn = subprocess.Popen([sys.executable, "-c", "import signal, sys, time\n"
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                 "print('ready', flush=True)\ntime.sleep(60)"], stdout=subprocess.PIPE)
    assert stubborn.stdout.readline() == b"ready\n"
    write_state(settings, stubborn.pid)
    started = time.monotonic()
    assert stop(settings, timeout=0.5) is True
    assert not alive(stubborn.pid)
    assert time.monotonic() - started >= 0.5  # SIGTERM did nothing: SIGKILL after the timeout
    stubborn.stdout.close()


def test_a_running_service_with_other_settings_is_refused(tmp_path):
    settings = settings_in(tmp_path)
    other = settings_in(tmp_path, workers=3)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_state(settings, sleeper.pid)
        with pytest.raises(ApiProcessError, match="^run_dir: .* has an API service running \\(pid %d\\) with other"
                                                  " settings" % sleeper.pid):
            start(other)
        with open(settings.state_file) as handle:
            assert json.load(handle)["fingerprint"] == settings.fingerprint  # the state file is untouched
    finally:
        stop(other)  # had it started one, the state file would name it
        sleeper.kill()
        sleeper.wait()


# ------------------------------------------------------------------ log


def test_log_tail(tmp_path):
    settings = settings_in(tmp_path)
    assert log_tail(settings) == ""  # no log yet
    os.makedirs(settings.run_dir)
    with open(settings.log_file, "wb") as handle:
        handle.write(b"".join(b"line %d\n" % index for index in range(1, 31)) + b"bad \xff byte\n")
    assert log_tail(settings) == "".join("line %d\n" % index for index in range(12, 31)) + "bad \ufffd byte\n"
    assert log_tail(settings, lines=2) == "line 30\nbad \ufffd byte\n"


# ------------------------------------------------------------------ a real process


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.load(response)


def test_start_twice_then_stop_a_real_service(tmp_path):
    settings = settings_in(tmp_path)
    state = start(settings, timeout=30)
    try:
        assert state["url"] == settings.url and state["fingerprint"] == settings.fingerprint
        with open(settings.state_file) as handle:
            assert json.load(handle) == state
        status, body = get(settings.url.rsplit("/v1", 1)[0] + "/")
        assert status == 200 and body
        status, body = get(settings.url + "/maintenance")
        assert (status, body) == (200, {"session_id": []})  # the journal is read: no session yet
        # The same settings again: found running, nothing started.
        again = start(settings, timeout=30)
        assert again == state
        assert running(settings) == state
    finally:
        stopped = stop(settings, timeout=15)
    assert stopped is True
    assert running(settings) is None and not os.path.exists(settings.state_file)
    assert not alive(state["pid"])
    with pytest.raises(OSError):
        get(settings.url.rsplit("/v1", 1)[0] + "/")
    assert "Listening at: http://%s" % settings.bind in log_tail(settings, lines=200)


def test_a_service_that_exits_at_once_is_reported_with_its_log(tmp_path):
    python = tmp_path / "python"
    # The library probe (python -c ...) finds everything; the service itself fails.
    python.write_text('#!/bin/sh\n[ "$1" = -c ] && exit 0\necho "cannot import the app" >&2\nexit 3\n')
    python.chmod(0o755)
    settings = settings_in(tmp_path, python=str(python))
    try:
        with pytest.raises(ApiProcessError, match="^the API service exited with code 3; see its log$"):
            start(settings, timeout=30)
    finally:
        stop(settings)
    assert running(settings) is None
    assert log_tail(settings) == "cannot import the app\n"


def test_a_service_that_cannot_start_is_reported_with_its_reason_however_long_its_log(tmp_path):
    python = tmp_path / "python"
    # Two workers say why, then gunicorn's own tracebacks push the reason out of any tail.
    python.write_text('#!/bin/sh\n[ "$1" = -c ] && exit 0\nfor worker in 1 2; do echo "%sFENIX_API_POLICY_FILE: p.yaml:'
                      ' not a mapping" >&2; done\nfor line in $(seq 40); do echo "  File gunicorn/arbiter.py" >&2; done\n'
                      'exit 1\n' % API_START_FAILURE_MARK)
    python.chmod(0o755)
    settings = settings_in(tmp_path, python=str(python))
    (tmp_path / "run").mkdir(exist_ok=True)
    with open(settings.log_file, "w") as log:  # a reason from an earlier start is not this start's
        log.write("%searlier reason\n" % API_START_FAILURE_MARK)
    try:
        with pytest.raises(ApiProcessError) as failed:
            start(settings, timeout=30)
    finally:
        stop(settings)
    assert str(failed.value) == ("the API service exited with code 1; see its log; it said:"
                                 " FENIX_API_POLICY_FILE: p.yaml: not a mapping")


# ------------------------------------------------------------------ catalog


def test_an_empty_catalog_gets_the_service_and_one_public_endpoint():
    cloud = FakeCloud()
    expected = ["create service fenix (maintenance)", "create public endpoint %s" % URL]
    assert catalog_changes(cloud, URL, "RegionOne") == expected
    assert (cloud.identity.catalog_services, cloud.identity.catalog_endpoints) == ([], [])  # only a check
    assert register_in_catalog(cloud, URL, "RegionOne") == expected
    [service] = cloud.identity.catalog_services
    assert (service.name, service.type) == ("fenix", "maintenance")
    [endpoint] = cloud.identity.catalog_endpoints
    assert (endpoint.service_id, endpoint.interface, endpoint.url, endpoint.region_id) == (
        service.id, "public", URL, "RegionOne")
    cloud.calls.clear()
    assert register_in_catalog(cloud, URL, "RegionOne") == []  # the second time changes nothing
    assert catalog_changes(cloud, URL, "RegionOne") == []
    assert cloud.calls == Counter({"identity.services": 2, "identity.endpoints": 2})  # reads only


def test_another_url_replaces_the_public_endpoints_of_the_region():
    cloud = FakeCloud()
    identity = cloud.identity
    service = identity.create_service(name="fenix", type="maintenance")
    old = identity.create_endpoint(service_id=service.id, interface="public", url="http://old/v1",
                                   region_id="RegionOne")
    identity.create_endpoint(service_id=service.id, interface="public", url="http://older/v1", region_id="RegionOne")
    internal = identity.create_endpoint(service_id=service.id, interface="internal", url="http://internal/v1",
                                        region_id="RegionOne")
    elsewhere = identity.create_endpoint(service_id=service.id, interface="public", url="http://two/v1",
                                         region_id="RegionTwo")
    cloud.calls.clear()
    changes = register_in_catalog(cloud, URL, "RegionOne")
    assert changes == ["replace public endpoint http://old/v1, http://older/v1 with %s" % URL]
    assert cloud.calls["identity.create_service"] == 0
    assert cloud.calls["identity.delete_endpoint"] == 2
    assert old not in identity.catalog_endpoints
    assert sorted((e.interface, e.region_id, e.url) for e in identity.catalog_endpoints) == [
        ("internal", "RegionOne", internal.url),
        ("public", "RegionOne", URL),
        ("public", "RegionTwo", elsewhere.url),
    ]
    assert register_in_catalog(cloud, URL, "RegionOne") == []


def test_without_region_every_public_endpoint_is_replaced():
    cloud = FakeCloud()
    identity = cloud.identity
    service = identity.create_service(name="fenix", type="maintenance")
    for region in ("RegionOne", "RegionTwo"):
        identity.create_endpoint(service_id=service.id, interface="public", url="http://%s/v1" % region,
                                 region_id=region)
    assert register_in_catalog(cloud, URL, None) == [
        "replace public endpoint http://RegionOne/v1, http://RegionTwo/v1 with %s" % URL]
    assert [(e.url, e.region_id) for e in identity.catalog_endpoints] == [(URL, None)]


def test_a_service_without_endpoint_gets_one():
    cloud = FakeCloud()
    cloud.identity.create_service(name="fenix", type="maintenance")
    assert catalog_changes(cloud, URL, None) == ["replace public endpoint none with %s" % URL]
    register_in_catalog(cloud, URL, None)
    assert len(cloud.identity.catalog_services) == 1
    assert [e.url for e in cloud.identity.catalog_endpoints] == [URL]
