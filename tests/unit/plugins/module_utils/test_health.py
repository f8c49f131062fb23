"""The health gate's checks and its waiter, over the fake SDK (tests/unit/fakes.py)."""

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import HostNotFound
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.health import (
    CHECKS,
    HostNotHealthy,
    HostReading,
    ServiceReading,
    check_heartbeat,
    check_nova_compute,
    read_host,
    require_health_floors,
    validate_checks,
    wait_healthy,
    wait_healthy_hosts,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.versions import VersionFloorError
from health_fakes import HealthCloud


class Ticks:
    """A clock that moves only when the waiter sleeps; each read's cloud change can hang on a tick."""

    def __init__(self, cloud, changes=None):
        self.now = 0.0
        self.cloud = cloud
        self.changes = dict(changes or {})  # second -> function(cloud), run when the clock reaches it
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        for at in sorted(self.changes):
            if at <= self.now:
                self.changes.pop(at)(self.cloud)


def wait(cloud, ticks, **kwargs):
    lines, hosts = [], set()

    def progress(host, line, check):
        hosts.add(host)
        lines.append(line)

    kwargs.setdefault("poll_interval", 1)
    result = wait_healthy(cloud, "compute1", progress=progress, clock=ticks.clock, sleep=ticks.sleep, **kwargs)
    assert hosts <= {"compute1"}, hosts
    return result, lines


def reading(state="up", forced_down=False, updated_at="t1"):
    return HostReading("compute1", service=ServiceReading(state, forced_down, updated_at))


def test_a_healthy_host_passes_at_its_first_report_after_the_gate_began():
    cloud = HealthCloud()
    ticks = Ticks(cloud)
    result, lines = wait(cloud, ticks)
    assert result.healthy and [check.name for check in result.checks] == list(CHECKS)
    # One read cannot see a new report: the second read, one poll later, does.
    assert ticks.sleeps == [1] and result.waited == 1
    by_name = {check.name: check for check in result.checks}
    assert [by_name[name].waited for name in CHECKS] == [0, 1, 0, 0]
    assert all(check.passed_at for check in result.checks)
    assert by_name["nova_compute"].seen == "nova-compute state up, not forced down"
    assert by_name["hypervisor"].seen == "hypervisor compute1 state up"
    assert by_name["placement"].seen == "resource provider compute1 has MEMORY_MB 4096, VCPU 8"
    assert by_name["heartbeat"].seen.startswith("nova-compute reported at 2026-11-22T11:")
    # A line per check at its first verdict, and one when the heartbeat passed: no line for unchanged verdicts.
    assert len(lines) == 5 and lines[1].startswith("compute1: heartbeat not passed after 0 s: no report from")
    assert lines[4].startswith("compute1: heartbeat passed after 1 s: nova-compute reported at")
    assert result.progress == lines


def test_a_stopped_compute_fails_the_heartbeat_at_the_timeout_while_nova_still_shows_it_up():
    cloud = HealthCloud()
    cloud.stopped_computes.add("compute1")
    ticks = Ticks(cloud)
    with pytest.raises(HostNotHealthy) as raised:
        wait(cloud, ticks, timeout=5)
    assert str(raised.value) == ("compute1 is not healthy after 5s: heartbeat: no report from nova-compute since the"
                                 " gate began (Nova shows state up; last report 2026-11-22T11:00:00.000000)")
    result = raised.value.result
    assert not result.healthy and [check.name for check in result.failed] == ["heartbeat"]
    assert result.failed[0].waited == 5 and result.failed[0].passed_at is None
    assert ticks.sleeps == [1] * 5


def test_the_last_read_falls_on_the_timeout():
    cloud = HealthCloud()
    cloud.stopped_computes.add("compute1")
    ticks = Ticks(cloud)
    with pytest.raises(HostNotHealthy, match="^compute1 is not healthy after 2.5s: heartbeat: "):
        wait(cloud, ticks, timeout=2.5)
    assert ticks.sleeps == [1, 1, 0.5]


def test_a_compute_that_comes_back_passes_when_it_reports_again():
    cloud = HealthCloud()
    cloud.stopped_computes.add("compute1")
    cloud.services["compute1"].state = "down"
    ticks = Ticks(cloud, {4: lambda c: c.stopped_computes.discard("compute1"),
                          6: lambda c: setattr(c.services["compute1"], "state", "up")})
    result, lines = wait(cloud, ticks, timeout=30)
    assert result.healthy and result.waited == 6
    by_name = {check.name: check for check in result.checks}
    assert (by_name["heartbeat"].waited, by_name["nova_compute"].waited, by_name["hypervisor"].waited) == (4, 6, 6)
    assert "compute1: nova_compute not passed after 0 s: nova-compute state down, not forced down" in lines
    assert "compute1: hypervisor not passed after 0 s: hypervisor compute1 state down" in lines
    assert [line.split(":")[1].strip().split(" after")[0] for line in lines[4:]] == [
        "heartbeat passed", "nova_compute passed", "hypervisor passed"]


def test_forced_down_is_named_with_the_fix():
    verdict = check_nova_compute(reading(state="down", forced_down=True), reading())
    assert not verdict.passed
    assert verdict.seen == "nova-compute is forced down (state down); clear forced_down when the host is fit"


def test_the_heartbeat_needs_a_report_newer_than_the_first_read():
    assert not check_heartbeat(reading(updated_at="t1"), reading(updated_at="t1")).passed
    assert check_heartbeat(reading(updated_at="t2"), reading(updated_at="t1")).passed
    never = check_heartbeat(reading(updated_at=None), reading(updated_at=None))
    assert not never.passed and never.seen.endswith("last report never)")
    missing = check_heartbeat(HostReading("compute1"), HostReading("compute1"))
    assert missing.seen == "Nova lists no nova-compute service on compute1"


def test_placement_without_the_provider_or_its_inventory_fails_naming_it():
    cloud = HealthCloud()
    cloud.providers_missing.add("compute1")
    ticks = Ticks(cloud, {2: lambda c: (c.providers_missing.clear(), c.inventories_missing.add("compute1"))})
    with pytest.raises(HostNotHealthy) as raised:
        wait(cloud, ticks, timeout=3, checks=["placement"])
    assert str(raised.value) == ("compute1 is not healthy after 3s: placement: resource provider compute1 has no VCPU"
                                 " or MEMORY_MB inventory (it has nothing)")
    assert raised.value.result.progress == [
        "compute1: placement not passed after 0 s: Placement has no resource provider named compute1"]


def test_only_the_chosen_checks_are_read_and_judged():
    cloud = HealthCloud()
    result, _lines = wait(cloud, Ticks(cloud), checks=["placement", "nova_compute"])
    assert [check.name for check in result.checks] == ["nova_compute", "placement"]
    assert result.waited == 0  # no heartbeat to wait for
    cloud.calls.clear()
    read_host(cloud, "compute1", ["nova_compute"])
    assert dict(cloud.calls) == {"compute.services": 1}
    cloud.calls.clear()
    read_host(cloud, "compute1", ["placement"])
    # The hypervisor (for its hostname), the provider by name, its inventory.
    assert dict(cloud.calls) == {"compute.get": 1, "placement.get": 2}


def test_no_checks_is_healthy_at_once():
    cloud = HealthCloud()
    result, lines = wait(cloud, Ticks(cloud), checks=[])
    assert result.healthy and result.checks == [] and lines == []


def test_unknown_checks_and_hosts_fail_before_waiting():
    with pytest.raises(ValueError, match="checks: disk is not a health check; choose among nova_compute, heartbeat"):
        validate_checks(["nova_compute", "disk"])
    assert validate_checks(["placement", "heartbeat", "placement"]) == ["heartbeat", "placement"]
    cloud = HealthCloud()
    ticks = Ticks(cloud)
    with pytest.raises(HostNotFound, match="no nova-compute service runs on 'compute9'"):
        wait_healthy(cloud, "compute9", clock=ticks.clock, sleep=ticks.sleep)
    assert ticks.sleeps == []


def test_a_cloud_without_the_hypervisor_microversion_is_refused():
    cloud = HealthCloud()
    require_health_floors(cloud)
    cloud.api_versions["compute"] = ("2.1", "2.52")
    with pytest.raises(VersionFloorError, match="2.53 .hypervisors with their resource provider"):
        require_health_floors(cloud)


def test_a_batch_waits_once_and_a_host_that_passed_is_read_no_more():
    cloud = HealthCloud()
    cloud.stopped_computes.update({"compute2", "compute3"})
    ticks = Ticks(cloud, {3: lambda c: c.stopped_computes.discard("compute2")})
    reads = []
    real_read = cloud.compute.services
    cloud.compute.services = lambda binary=None, host=None: reads.append(host) or real_read(binary=binary, host=host)
    progress = []
    with pytest.raises(HostNotHealthy) as raised:
        wait_healthy_hosts(cloud, ["compute1", "compute2", "compute3"], timeout=5, poll_interval=1,
                           progress=lambda host, line, check: progress.append((host, line, check.name)),
                           clock=ticks.clock, sleep=ticks.sleep)
    # Each progress line comes with the host it is about, and names its check.
    assert {host for host, _line, _check in progress} == {"compute1", "compute2", "compute3"}
    assert all(line.startswith(host + ": " + check + " ") for host, line, check in progress), progress
    # Only compute3 failed; the message and failures name it alone, the results keep every host in order.
    assert list(raised.value.failures) == ["compute3"] and str(raised.value).startswith("compute3 is not healthy after 5s")
    assert [(result.host, result.healthy) for result in raised.value.results] == [
        ("compute1", True), ("compute2", True), ("compute3", False)]
    assert raised.value.result.host == "compute3"
    # One lookup each, then compute1 passes at its second read, compute2 at the read after it came back (t=3).
    reads_of = {host: reads.count(host) for host in ("compute1", "compute2", "compute3")}
    assert reads_of == {"compute1": 1 + 2, "compute2": 1 + 4, "compute3": 1 + 6}
    assert ticks.sleeps == [1] * 5
