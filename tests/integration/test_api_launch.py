"""The API as the front door: POST /v1/maintenance runs the maintenance (ansible-runner on this host),
GET follows it to MAINTENANCE_DONE, DELETE of a running session stops it and gives the hosts back.

The projects have no VNFM here (notifications go to the message bus, nobody answers): the silent
policy decides after a short reply timeout, as for most projects of a real cloud.
"""

from __future__ import annotations

import json
import os
import sys
import time

import openstack
import pytest
import yaml

from conftest import ADMIN_CLOUD, ApiService
from test_api import request

from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import LaunchSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

PORT = 12356
MOVING = ("MIGRATING", "RESIZE", "VERIFY_RESIZE", "REVERT_RESIZE", "ERROR")


@pytest.fixture(scope="module")
def launching_service(test_cloud, tmp_path_factory):
    """The API with the runner launcher: the compute hosts run their plugins through a local connection."""
    workdir = tmp_path_factory.mktemp("launch")
    inventory = workdir / "inventory.ini"
    inventory.write_text("[compute]\n" + "".join(
        "compute%d ansible_connection=local ansible_python_interpreter=%s\n" % (n, sys.executable) for n in range(1, 5)))
    run_vars = workdir / "run_vars.yml"
    run_vars.write_text(yaml.safe_dump({
        "rolling_maintenance_bus": {"transport_url": "rabbit://guest:guest@127.0.0.1:5672/"},
        "rolling_maintenance_reply_timeout": 3,  # nobody answers: the first state costs this,
        "rolling_maintenance_silent_projects": "decide_at_once",  # the later ones decide at once
        "rolling_maintenance_renotify": 0,
        "rolling_maintenance_silent_policy": "LIVE_MIGRATE",
        "rolling_maintenance_poll_interval": 1,
    }))
    launch = LaunchSettings(kind="runner", inventory=str(inventory), run_vars=str(run_vars))
    service = ApiService(str(workdir / "run"), str(workdir / "journal.sqlite"), port=PORT, launch=launch).start()
    yield service
    service.stop()


@pytest.fixture
def admin_conn(test_cloud):
    return openstack.connect(cloud=ADMIN_CLOUD)


def follow(service, token: str, session_id: str, until, timeout: float = 300.0) -> list:
    """The states GET shows, polled every half second, until ``until(state)`` or the timeout."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = request("GET", service.url + "/maintenance/" + session_id, token)
        assert status == 200, body
        if not seen or seen[-1] != body["state"]:
            seen.append(body["state"])
            print("%s: %s %s" % (session_id, body["state"], body.get("reason") or ""))
        if until(body["state"]):
            return seen
        time.sleep(0.5)
    raise AssertionError("session %s still %s after %d s; states seen: %s" % (session_id, seen[-1], timeout, seen))


def servers_by_id(conn) -> dict:
    return {s.id: s for s in conn.compute.servers(details=True, all_projects=True)}


def test_post_runs_the_maintenance_to_done(launching_service, tokens, admin_conn, test_cloud):
    admin = tokens["fenix-admin"].token
    before = servers_by_id(admin_conn)
    started = time.monotonic()
    status, created = request("POST", launching_service.url + "/maintenance", admin,
                              {"hosts": ["compute1"], "state": "MAINTENANCE", "session_id": "api-run-1",
                               "metadata": {"openstack_release": "next"},
                               # A session's upgrade plugins are its own (Fenix's actions), not the run's.
                               "actions": [{"plugin": "dummy", "type": "host", "metadata": {"seconds": 1}}]})
    assert status == 200, created
    seen = follow(launching_service, admin, "api-run-1", lambda state: state in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED"))
    print("POST to %s: %.1f s" % (seen[-1], time.monotonic() - started))
    detail = request("GET", launching_service.url + "/maintenance/api-run-1/detail", admin)[1]
    assert seen[-1] == "MAINTENANCE_DONE", (seen, detail.get("reason"), detail.get("run"))
    assert "MAINTENANCE" in seen[:2] and len(seen) >= 3, seen  # GET moved through the states
    run = detail["run"]
    assert run["launcher"] == "runner" and run["ident"] == "api-run-1-1"
    # The run ends a moment after it writes MAINTENANCE_DONE.
    deadline = time.monotonic() + 60
    while run["alive"] and time.monotonic() < deadline:
        time.sleep(0.5)
        run = request("GET", launching_service.url + "/maintenance/api-run-1/detail", admin)[1]["run"]
    assert run["status"] == "successful" and not run["alive"], run
    events = os.listdir(os.path.join(run["artifacts"], "job_events"))
    assert len(events) > 20, "ansible-runner's job events are beside the journal"
    journal = Journal(launching_service.journal)
    assert [r.host for r in journal.action_runs("api-run-1") if r.state == "DONE"] == ["compute1"]
    # Nova: the host is enabled again, every server is where it may be and in its status.
    service = next(iter(admin_conn.compute.services(binary="nova-compute", host="compute1")))
    assert service.status == "enabled"
    after = servers_by_id(admin_conn)
    assert sorted(after) == sorted(before)
    assert {i: s.status for i, s in after.items()} == {i: s.status for i, s in before.items()}
    assert not [s.id for s in after.values() if s.compute_host == "compute1" and s.status == "ACTIVE"
                and before[s.id].compute_host == "compute1"], "servers were to leave compute1"
    # A finished session is not run again.
    again = request("PUT", launching_service.url + "/maintenance/api-run-1", admin, {})
    assert again[0] == 409 and "nothing to continue" in again[1]["error"]["message"]


def test_delete_of_a_running_session_stops_it_and_gives_the_hosts_back(launching_service, tokens, admin_conn):
    admin = tokens["fenix-admin"].token
    status, created = request("POST", launching_service.url + "/maintenance", admin,
                              {"hosts": ["compute2"], "session_id": "api-run-2",
                               "actions": [{"plugin": "dummy", "type": "host", "metadata": {"seconds": 120}}]})
    assert status == 200, created
    journal = Journal(launching_service.journal)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # stop it while its host plugin runs: the host is disabled and empty
        if any(r.state == "RUNNING" for r in journal.action_runs("api-run-2")):
            break
        assert journal.session("api-run-2").state != "MAINTENANCE_FAILED", journal.session("api-run-2").reason
        time.sleep(0.5)
    else:
        raise AssertionError("the host plugin of api-run-2 never ran")
    second = request("POST", launching_service.url + "/maintenance/api-run-2", admin, {})
    assert second[0] == 409 and "a run is going already (runner api-run-2-1" in second[1]["error"]["message"]
    status, deleted = request("DELETE", launching_service.url + "/maintenance/api-run-2", admin)
    assert status == 200, deleted
    assert deleted["enabled_hosts"] == ["compute2"] and deleted["left_hosts"] == []
    assert request("GET", launching_service.url + "/maintenance/api-run-2", admin)[0] == 404
    # Nova, independently: the host is enabled, nothing is moving or broken.
    service = next(iter(admin_conn.compute.services(binary="nova-compute", host="compute2")))
    assert service.status == "enabled", service.disabled_reason
    stuck = [(s.name, s.status, s.task_state) for s in admin_conn.compute.servers(details=True, all_projects=True)
             if s.status in MOVING or s.task_state is not None]
    assert not stuck
    run_dir = os.path.join(os.path.dirname(launching_service.journal), "runs", "api-run-2")
    with open(os.path.join(run_dir, "launch.json")) as handle:
        pid = json.load(handle)["pid"]
    assert not process_alive(pid), "the run's ansible-runner (pid %d) still runs" % pid


def process_alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_put_resumes_a_session_failed_by_an_injected_fault(launching_service, tokens, admin_conn, tmp_path):
    """The host plugin fails until the test fixes the fault: the session fails naming the host, which stays
    disabled (its upgrade had begun); PUT starts the resume, which runs the plugin again and finishes."""
    admin = tokens["fenix-admin"].token
    fixed = tmp_path / "fault-fixed"
    status, created = request("POST", launching_service.url + "/maintenance", admin, {
        "hosts": ["compute3"], "session_id": "api-run-3",
        "actions": [{"plugin": "command", "type": "host", "metadata": {"argv": ["test", "-e", str(fixed)]}}]})
    assert status == 200, created
    seen = follow(launching_service, admin, "api-run-3", lambda state: state in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED"))
    assert seen[-1] == "MAINTENANCE_FAILED", seen
    detail = request("GET", launching_service.url + "/maintenance/api-run-3/detail", admin)[1]
    assert "compute3" in detail["reason"] and "test" in detail["reason"], detail["reason"]
    service = next(iter(admin_conn.compute.services(binary="nova-compute", host="compute3")))
    assert service.status == "disabled" and service.disabled_reason.startswith(
        "fenix.maintenance: session api-run-3"), service.disabled_reason
    wait_until_run_ends(launching_service, admin, "api-run-3")
    fixed.write_text("")
    resumed = request("PUT", launching_service.url + "/maintenance/api-run-3", admin, {})
    assert resumed[0] == 200, resumed
    seen = follow(launching_service, admin, "api-run-3", lambda state: state in ("MAINTENANCE_DONE", "MAINTENANCE_FAILED"))
    detail = request("GET", launching_service.url + "/maintenance/api-run-3/detail", admin)[1]
    assert seen[-1] == "MAINTENANCE_DONE", (seen, detail.get("reason"))
    assert detail["run"]["ident"] == "api-run-3-2", detail["run"]  # the second run of the session
    service = next(iter(admin_conn.compute.services(binary="nova-compute", host="compute3")))
    assert service.status == "enabled", service.disabled_reason
    runs = [(r.host, r.state) for r in Journal(launching_service.journal).action_runs("api-run-3")]
    assert runs[-1] == ("compute3", "DONE") and ("compute3", "FAILED") in runs, runs


def wait_until_run_ends(service, token: str, session_id: str, timeout: float = 60.0) -> None:
    """A run ends a moment after it writes its session's last state."""
    deadline = time.monotonic() + timeout
    while request("GET", service.url + "/maintenance/%s/detail" % session_id, token)[1]["run"]["alive"]:
        assert time.monotonic() < deadline, "the run of %s did not end" % session_id
        time.sleep(0.5)
