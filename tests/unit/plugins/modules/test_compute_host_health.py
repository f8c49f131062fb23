"""compute_host_health: the health gate as a module, over the fake SDK, with and without a session journal."""

import os

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.modules.compute_host_health import ComputeHostHealthModule
from health_fakes import HealthCloud
from module_runner import run_module

FAST = {"poll_interval": 0.01}


def run(cloud, check_mode=False, **args):
    return run_module(ComputeHostHealthModule, dict(FAST, **args), cloud, check_mode=check_mode)


def test_a_healthy_host_passes_every_check_and_changes_nothing():
    cloud = HealthCloud()
    result = run(cloud, host="compute1")
    assert not result["failed"] and result["changed"] is False and result["healthy"] is True
    assert [(check["name"], check["passed"]) for check in result["health"]] == [
        ("nova_compute", True), ("heartbeat", True), ("hypervisor", True), ("placement", True)]
    assert all(check["passed_at"] and check["waited"] >= 0 for check in result["health"])
    # The first verdict of each check, then the heartbeat's pass at the second read.
    assert len(result["progress"]) == 5 and result["progress"][-1].startswith("compute1: heartbeat passed after")
    assert cloud.calls["compute.services"] == 3  # the host's lookup, then two reads
    assert cloud.calls["compute.disable_service"] == cloud.calls["compute.enable_service"] == 0


def test_a_stopped_compute_fails_naming_the_check_and_what_it_saw():
    cloud = HealthCloud()
    cloud.stopped_computes.add("compute2")
    result = run(cloud, host="compute2", timeout=0)
    assert result["failed"] is True and result["healthy"] is False
    assert result["msg"] == ("compute2 is not healthy after 0s: heartbeat: no report from nova-compute since the gate"
                             " began (Nova shows state up; last report 2026-11-22T11:00:00.000000)")
    assert [check["name"] for check in result["health"] if not check["passed"]] == ["heartbeat"]


def test_every_failed_check_is_named_in_order():
    cloud = HealthCloud()
    cloud.stopped_computes.add("compute1")
    cloud.services["compute1"].state = "down"
    cloud.inventories_missing.add("compute1")
    result = run(cloud, host="compute1", timeout=0)
    assert result["msg"] == (
        "compute1 is not healthy after 0s: nova_compute: nova-compute state down, not forced down;"
        " heartbeat: no report from nova-compute since the gate began (Nova shows state down; last report"
        " 2026-11-22T11:00:00.000000); hypervisor: hypervisor compute1 state down;"
        " placement: resource provider compute1 has no VCPU or MEMORY_MB inventory (it has nothing)")


def test_checks_choose_what_is_read():
    cloud = HealthCloud()
    cloud.stopped_computes.add("compute1")  # no heartbeat: not asked for
    result = run(cloud, host="compute1", checks=["nova_compute"], timeout=0)
    assert result["healthy"] is True and [check["name"] for check in result["health"]] == ["nova_compute"]
    assert cloud.calls["placement.get"] == 0 and cloud.calls["compute.get"] == 0


def test_bad_input_fails_before_any_read():
    cloud = HealthCloud()
    unknown = run(cloud, host="compute1", checks=["nova_compute", "disk"])
    assert unknown["failed"] and "value of checks must be one or more of" in unknown["msg"]
    negative = run(cloud, host="compute1", timeout=-1)
    assert negative["failed"] and negative["msg"] == "timeout must be >= 0 and poll_interval > 0 (given -1 and 0.01)"
    missing = run(cloud, host="compute9")
    assert missing["failed"] and "no nova-compute service runs on 'compute9'" in missing["msg"]
    assert cloud.calls["placement.get"] == 0


def test_an_old_nova_is_refused_before_waiting():
    cloud = HealthCloud()
    cloud.api_versions["compute"] = ("2.1", "2.50")
    result = run(cloud, host="compute1")
    assert result["failed"] and "needs microversion 2.53 (hypervisors with their resource provider" in result["msg"]
    assert cloud.calls["compute.services"] == 0


def test_with_a_session_the_gate_is_recorded_in_its_journal(tmp_path):
    location = str(tmp_path / "journal.sqlite")
    journal = Journal(location)
    journal.create_session(["compute1"], session_id="s1", request={"hosts": ["compute1"]})
    cloud = HealthCloud()
    passed = run(cloud, host="compute1", session_id="s1", journal=location)
    assert passed["healthy"] is True
    events = [event for event in journal.events("s1") if event["kind"] == "host.health_check"]
    assert [(event["kind"], event["host"], event["details"]["name"]) for event in events] == [
        ("host.health_check", "compute1", name) for name in ("nova_compute", "heartbeat", "hypervisor", "placement")
    ] + [("host.health_check", "compute1", "heartbeat")]
    assert events[-1]["details"]["passed"] is True and events[-1]["details"]["line"] == passed["progress"][-1]
    healthy = [event for event in journal.events("s1") if event["kind"] == "host.healthy"]
    assert len(healthy) == 1 and healthy[0]["details"]["waited"] == passed["waited"]
    assert [check["name"] for check in healthy[0]["details"]["checks"]] == [c["name"] for c in passed["health"]]

    cloud.stopped_computes.add("compute1")
    failed = run(cloud, host="compute1", session_id="s1", journal=location, timeout=0)
    assert failed["failed"]
    unhealthy = [event for event in journal.events("s1") if event["kind"] == "host.unhealthy"]
    assert len(unhealthy) == 1 and unhealthy[0]["details"]["timeout"] == 0
    assert [check["passed"] for check in unhealthy[0]["details"]["checks"]] == [True, False, True, True]


def test_check_mode_reads_and_waits_but_writes_no_journal(tmp_path):
    location = str(tmp_path / "journal.sqlite")
    result = run(HealthCloud(), check_mode=True, host="compute1", session_id="s1", journal=location)
    assert result["healthy"] is True and result["changed"] is False
    assert not os.path.exists(location)


def test_an_unknown_session_is_named_before_any_read(tmp_path):
    cloud = HealthCloud()
    result = run(cloud, host="compute1", session_id="nope", journal=str(tmp_path / "journal.sqlite"))
    assert result["failed"] and result["msg"].startswith("session_id: ") and "create the session first" in result["msg"]
    assert cloud.calls["compute.services"] == 0


def test_a_batch_fails_naming_only_the_host_that_did_not_pass_and_records_every_host(tmp_path):
    location = str(tmp_path / "journal.sqlite")
    journal = Journal(location)
    journal.create_session(["compute1", "compute2"], session_id="s1", request={"hosts": ["compute1", "compute2"]})
    cloud = HealthCloud()
    cloud.stopped_computes.add("compute2")
    result = run(cloud, hosts=["compute1", "compute2"], timeout=1, session_id="s1", journal=location)
    assert result["failed"] is True and result["healthy"] is False and "health" not in result
    assert list(result["failures"]) == ["compute2"] and result["msg"] == result["failures"]["compute2"]
    assert result["msg"].startswith("compute2 is not healthy after 1s: heartbeat: no report from nova-compute")
    assert [(gate["host"], gate["healthy"]) for gate in result["results"]] == [("compute1", True), ("compute2", False)]
    assert [check["passed"] for check in result["results"][1]["health"]] == [True, False, True, True]
    ends = [(event["kind"], event["host"]) for event in journal.events("s1")
            if event["kind"] in ("host.healthy", "host.unhealthy")]
    assert ends == [("host.healthy", "compute1"), ("host.unhealthy", "compute2")]
    checks_by_host = {event["host"] for event in journal.events("s1") if event["kind"] == "host.health_check"}
    assert checks_by_host == {"compute1", "compute2"}


def test_a_healthy_batch_passes_with_empty_failures():
    cloud = HealthCloud()
    result = run(cloud, hosts=["compute1", "compute2"])
    assert not result["failed"] and result["healthy"] is True and result["failures"] == {}
    assert [gate["host"] for gate in result["results"]] == ["compute1", "compute2"]
    assert {line.split(":")[0] for line in result["progress"]} == {"compute1", "compute2"}


def test_host_and_hosts_are_one_or_the_other():
    cloud = HealthCloud()
    both = run(cloud, host="compute1", hosts=["compute2"])
    assert both["failed"] and "mutually exclusive: host|hosts" in both["msg"]
    neither = run(cloud)
    assert neither["failed"] and "one of the following is required: host, hosts" in neither["msg"]
    empty = run(cloud, hosts=[])
    assert empty["failed"] and empty["msg"] == "hosts: give at least one host (or use host)"
    assert cloud.calls["compute.services"] == 0
