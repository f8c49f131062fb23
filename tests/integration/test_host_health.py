"""The health gate on the test cloud, with a real nova-compute stopped and started again.

``cloudctl compute-stop`` / ``compute-start`` stop and start one compute's
nova-compute process; the upgrade plugin tests/integration/upgrade_plugins/
restart_compute.py does the same from inside a rolling maintenance, returning
while the compute is still down. Every effect is checked in Nova with our own
openstacksdk queries. One host (HOST) and short timeouts keep the CI budget:
the maintenance tests maintain HOST alone, and the module test runs last, on
the host the maintenances emptied.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from datetime import datetime, timezone

import pytest

from conftest import CLOUD_DIR, CLOUDCTL, ROOT, cloudctl, compute_service
from test_rolling_maintenance import Run

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

HOST = "compute4"  # holds no member of the seed's anti-affinity group: maintaining it alone is always allowed
NEIGHBOUR = "compute3"  # holds one: a test deletes it to maintain the two hosts in one batch
PLUGIN_DIR = os.path.join(ROOT, "tests", "integration", "upgrade_plugins")
M = "fenix.maintenance."
# Past the test cloud's service_down_time (30 s): Nova then knows the stopped compute is down and keeping its host
# disabled is a database write; before it, Nova also tells the compute over RPC and waits rpc_response_timeout (60 s).
GONE_TIMEOUT = 35
CHECK_NAMES = ["nova_compute", "heartbeat", "hypervisor", "placement"]


def compute_pid(host: str):
    """The pid of the host's nova-compute process as cloudctl recorded it, or None when it is not running."""
    try:
        with open(os.path.join(CLOUD_DIR, "run", "nova-compute-%s.pid" % host)) as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def process_started_at(pid: int) -> datetime:
    """When a process started (UTC), from /proc: its start in clock ticks after the boot, and the boot time."""
    with open("/proc/%d/stat" % pid) as handle:
        ticks = int(handle.read().rsplit(")", 1)[1].split()[19])  # field 22 of stat(5)
    with open("/proc/stat") as handle:
        boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), timezone.utc)


def nova_time(text: str) -> datetime:
    """A time as Nova's API writes it (ISO 8601, UTC, usually without a zone)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def seeded_once(test_cloud):
    """A freshly seeded cloud for the maintenances of this module (they move HOST's servers away)."""
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(test_cloud, "seed.json")) as handle:
        return json.load(handle)


@pytest.fixture
def compute_back(test_cloud):
    """Whatever the test did, HOST's nova-compute runs and reports again afterwards."""
    yield
    if compute_pid(HOST) is None:
        cloudctl("compute-start", HOST)


def maintenance(tmp_path, session_id: str, plugin_metadata: dict, health_timeout: int, more_actions=(),
                hosts=(HOST,), max_unavailable=None) -> Run:
    """A rolling maintenance of HOST alone (or of ``hosts``) whose host upgrade is restart_compute.

    ``max_unavailable``: no limit (keys set to "") lets two hosts make one batch whatever the zone holds.

    No VNFM: every project is unreachable, waited for once (5 s) and then decided for by the silent
    policy at once (live migration).
    """
    return Run(tmp_path, session_id, {},
               rolling_maintenance_hosts=list(hosts),
               rolling_maintenance_actions=[{"plugin": "restart_compute", "type": "host",
                                             "metadata": dict(plugin_metadata, cloudctl=CLOUDCTL)}, *more_actions],
               rolling_maintenance_plugin_dirs=[PLUGIN_DIR],
               rolling_maintenance_reply_timeout=5,
               rolling_maintenance_silent_projects="decide_at_once",
               rolling_maintenance_health_timeout=health_timeout,
               **({"rolling_maintenance_max_unavailable": max_unavailable} if max_unavailable else {}))


def gate_events(journal: Journal, session_id: str) -> list:
    return [event for event in journal.events(session_id)
            if event["host"] == HOST and event["kind"] in ("host.health_check", "host.healthy", "host.unhealthy")]


def test_a_maintenance_waits_for_its_restarted_compute_before_enabling_the_host(
        tmp_path, seeded_once, admin, compute_back):
    before_pid = compute_pid(HOST)
    assert before_pid is not None, "%s's nova-compute is not running before the test" % HOST
    site_check = {"plugin": "command", "type": "check", "metadata": {"argv": ["test", "-d", "/proc"]}}
    run = maintenance(tmp_path, "health-restart", {"down_seconds": 5, "log": str(tmp_path / "compute-start.log")}, 120,
                      more_actions=[site_check])
    code, output = run.run()
    assert code == 0, output[-3000:]
    assert run.session().state == "MAINTENANCE_DONE"

    # nova-compute really restarted: another process, which reported to Nova.
    after_pid = compute_pid(HOST)
    assert after_pid is not None and after_pid != before_pid
    with open(str(tmp_path / "compute-start.log")) as handle:
        assert "nova-compute-%s up" % HOST in handle.read()

    # The gate saw the compute silent, then reporting again, and waited for it.
    journal = Journal(run.journal)
    events = gate_events(journal, "health-restart")
    heartbeat = [event["details"]["passed"] for event in events
                 if event["kind"] == "host.health_check" and event["details"]["name"] == "heartbeat"]
    assert heartbeat == [False, True], events
    healthy = [event for event in events if event["kind"] == "host.healthy"]
    assert len(healthy) == 1 and [event for event in events if event["kind"] == "host.unhealthy"] == []
    checks = {check["name"]: check for check in healthy[0]["details"]["checks"]}
    assert sorted(checks) == sorted(CHECK_NAMES) and all(check["passed"] for check in checks.values())
    waited = healthy[0]["details"]["waited"]
    assert checks["heartbeat"]["waited"] == waited and waited > 0, healthy[0]["details"]
    # The report that let the gate pass came from the new process (one clock: Nova runs on this machine).
    reported = re.match(r"nova-compute reported at (\S+), after the gate began$", checks["heartbeat"]["seen"])
    assert reported, checks["heartbeat"]["seen"]
    assert nova_time(reported.group(1)) >= process_started_at(after_pid), (reported.group(1), after_pid)
    print("health gate: waited %.1f s for %s's restarted nova-compute (down 5 s, then its start)" % (waited, HOST))

    # In this order: the host plugin, the gate, the site check, the enable.
    assert [(r.plugin, r.type, r.host, r.state) for r in journal.action_runs("health-restart")] == [
        ("restart_compute", "host", HOST, "DONE"), ("command", "check", HOST, "DONE")]
    started = [event["event_id"] for event in journal.events("health-restart")
               if event["kind"] == "action.started" and event["host"] == HOST]
    # The enable's record (host.state since it records the host MAINTAINED in the same write).
    enabled = [event for event in journal.events("health-restart") if event["host"] == HOST
               and event["kind"].startswith("host.") and event["details"].get("disabled_by_session") is False]
    assert len(started) == 2 and len(enabled) == 1
    assert enabled[0]["details"] == {"state": "MAINTAINED", "disabled_by_session": False, "maintained": True}
    enabled = [event["event_id"] for event in enabled]
    assert started[0] < events[0]["event_id"] and healthy[0]["event_id"] < started[1] < enabled[0]
    # Nova, read independently: enabled, up, and with a report of the new process.
    service = compute_service(admin, HOST)
    assert (service.status, service.state, service.is_forced_down) == ("enabled", "up", False)
    assert service.disabled_reason is None


@pytest.fixture
def member_off_neighbour(admin, test_cloud):
    """NEIGHBOUR without its aa-group member, so that it and HOST make one batch; the seed is whole again after."""
    member = next((server for group in admin.compute.server_groups(all_projects=True) if group.name == "aa-group"
                   for server in map(admin.compute.get_server, group.member_ids) if server.compute_host == NEIGHBOUR),
                  None)
    assert member is not None, "the seed put no aa-group member on %s" % NEIGHBOUR
    admin.compute.delete_server(member)
    admin.compute.wait_for_delete(member, wait=120)
    yield
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)


def test_a_compute_that_does_not_come_back_keeps_its_host_disabled_and_its_healthy_neighbour_is_maintained(
        tmp_path, seeded_once, admin, compute_back, enabled_hosts, member_off_neighbour):
    # One batch of two: HOST's compute is stopped for good, NEIGHBOUR's is left running.
    run = maintenance(tmp_path, "health-gone", {"come_back": False, "hosts": [HOST]}, GONE_TIMEOUT,
                      hosts=(HOST, NEIGHBOUR), max_unavailable={"availability_zone": "", "aggregate": ""})
    started = time.monotonic()
    code, output = run.run()
    print("the failed run took %.1f s" % (time.monotonic() - started))
    assert code != 0
    assert compute_pid(HOST) is None, "the compute was started again"
    journal = Journal(run.journal)
    # One batch: both gates began in the same wait (separate batches would be moves and a plugin apart).
    first_checks = {}
    for event in journal.events("health-gone"):
        if event["kind"] == "host.health_check":
            first_checks.setdefault(event["host"], nova_time(event["at"].rstrip("Z")))
    assert sorted(first_checks) == sorted([HOST, NEIGHBOUR])
    assert abs((first_checks[HOST] - first_checks[NEIGHBOUR]).total_seconds()) < 3, first_checks

    session = run.session()
    assert session.state == "MAINTENANCE_FAILED"
    # The reason names the host, the check that failed and what it saw.
    match = re.match(r"^%s: %s is not healthy after %ds: (nova_compute|heartbeat): " % (HOST, HOST, GONE_TIMEOUT), session.reason)
    assert match, session.reason
    assert "heartbeat: no report from nova-compute since the gate began (Nova shows state " in session.reason
    events = [event for event in journal.events("health-gone") if event["kind"] in ("host.healthy", "host.unhealthy")]
    assert sorted((event["kind"], event["host"]) for event in events) == [
        ("host.healthy", NEIGHBOUR), ("host.unhealthy", HOST)]
    unhealthy = events[[event["host"] for event in events].index(HOST)]
    assert unhealthy["details"]["timeout"] == GONE_TIMEOUT
    assert not {check["name"]: check for check in unhealthy["details"]["checks"]}["heartbeat"]["passed"]
    hosts = {record.host: record for record in journal.hosts("health-gone")}
    assert (hosts[HOST].state, hosts[HOST].maintained) == ("FAILED", False), hosts[HOST]
    assert (hosts[NEIGHBOUR].state, hosts[NEIGHBOUR].maintained) == ("MAINTAINED", True), hosts[NEIGHBOUR]

    # Nova, read independently: the host stays disabled, the reason naming the session and what failed; its healthy
    # neighbour of the same batch is enabled again.
    service = compute_service(admin, HOST)
    assert service.status == "disabled"
    assert service.disabled_reason.startswith("fenix.maintenance: session health-gone: %s is not healthy after %ds: "
                                              % (HOST, GONE_TIMEOUT)), service.disabled_reason
    assert match.group(1) in service.disabled_reason
    neighbour = compute_service(admin, NEIGHBOUR)
    assert (neighbour.status, neighbour.disabled_reason) == ("enabled", None)
    assert "%s is not healthy after %ds: " % (HOST, GONE_TIMEOUT) in output
    # compute_back starts the compute again, enabled_hosts enables the host, member_off_neighbour seeds again.


def test_compute_host_health_sees_a_stopped_compute_and_its_return(admin, playbook, compute_back):
    task = {M + "compute_host_health": {"host": HOST, "timeout": 15, "poll_interval": 1}}
    healthy, = playbook.run(task)
    assert healthy.get("failed") is not True and healthy["healthy"] is True, healthy.get("msg")
    assert [(check["name"], check["passed"]) for check in healthy["health"]] == [(name, True) for name in CHECK_NAMES]
    assert healthy["changed"] is False

    cloudctl("compute-stop", HOST)
    stopped, = playbook.run(task)
    assert stopped["failed"] is True and stopped["healthy"] is False
    assert stopped["msg"].startswith("%s is not healthy after 15s: " % HOST), stopped["msg"]
    # Nova calls the stopped service up until service_down_time (30 s in the test cloud) has passed since its last report; the
    # heartbeat check sees at once that it is gone, and the message says what Nova shows.
    assert "heartbeat: no report from nova-compute since the gate began (Nova shows state " in stopped["msg"]
    service = compute_service(admin, HOST)
    assert "last report %s)" % service.updated_at in stopped["msg"], (stopped["msg"], service.updated_at)
    failed = [check["name"] for check in stopped["health"] if not check["passed"]]
    assert "heartbeat" in failed and set(failed) <= {"nova_compute", "heartbeat", "hypervisor"}

    cloudctl("compute-start", HOST)
    back, = playbook.run({M + "compute_host_health": {"host": HOST, "timeout": 60, "poll_interval": 1}})
    assert back["healthy"] is True, back.get("msg")
    print("compute_host_health after compute-start: waited %.1f s (%s)" % (back["waited"], "; ".join(back["progress"])))


def test_a_migration_to_a_stopped_target_is_retried_where_the_scheduler_chooses(
        admin, playbook, compute_back, enabled_hosts):
    """The planner's target went down after the plan: the first attempt fails on it, the retry lets Nova choose."""
    grouped = {member for group in admin.compute.server_groups(all_projects=True) for member in group.member_ids}
    server = next(s for s in admin.compute.servers(details=True, all_projects=True)
                  if s.status == "ACTIVE" and s.id not in grouped and s.compute_host != HOST)
    source = server.compute_host
    cloudctl("compute-stop", HOST)
    # As a fencing operator or monitoring does: Nova knows at once that it is down, instead of after
    # service_down_time (and a pre-check RPC that waits rpc_response_timeout).
    admin.compute.update_service_forced_down(compute_service(admin, HOST), forced=True)
    move = {"servers": [server.id], "from_host": source, "target_host": HOST, "retries": 1, "retry_delay": 1,
            "poll_interval": 1}

    refused, = playbook.run({M + "server_migrate": move})
    assert refused.get("failed") is True and refused["failed_servers"] == [server.id]
    # The scheduler refuses the forced-down target ("No valid host"): retried once, to the same host.
    assert (refused["servers"][0]["attempts"], refused["servers"][0]["dropped_target"]) == (2, None)
    assert "No valid host" in refused["servers"][0]["error"], refused["servers"][0]["error"]
    assert admin.compute.get_server(server.id).compute_host == source

    moved, = playbook.run({M + "server_migrate": dict(move, target_fallback=True)})
    assert moved.get("failed") is not True, moved.get("msg")
    outcome = moved["servers"][0]
    assert (outcome["status"], outcome["dropped_target"], outcome["attempts"]) == ("migrated", HOST, 2)
    # Nova, read independently: the server runs on a third host; its migration to the stopped host is in error.
    after = admin.compute.get_server(server.id)
    assert (after.status, after.compute_host) == ("ACTIVE", outcome["destination"])
    assert after.compute_host not in (source, HOST)
    records = sorted(admin.compute.migrations(server_id=server.id), key=lambda record: record.created_at)
    assert (records[-1].dest_compute, records[-1].status) == (after.compute_host, "completed")
    assert not [record for record in records if record.dest_compute == HOST and record.status == "completed"]
    # compute_back starts HOST's compute again, enabled_hosts lifts the forced down.
