import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.drain import (
    DEFAULT_POLICY,
    HostNotEmpty,
    plan_drain,
    wait_host_empty,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import MigrationSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import ServerView
from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.drain_host import (
    DrainSettings,
    DrainStopped,
    drain_host,
)
from fakes import FakeCloud, http_error

FAST = MigrationSettings(poll_interval=0, retry_delay=0, retries=0)


def view(status, task_state=None, name="s"):
    return ServerView(id=name, name=name, project_id="p1", status=status, task_state=task_state,
                      host="compute1", host_id="h", flavor={})


def test_default_policy_moves_by_status():
    plan = plan_drain([view("ACTIVE", name="a"), view("PAUSED", name="p"), view("SHUTOFF", name="s")], DEFAULT_POLICY)
    assert [(m.server_id, m.kind) for m in plan.moves] == [("a", "live"), ("p", "live"), ("s", "cold")]
    assert plan.blockers == [] and plan.skipped == []


def test_unmovable_status_blocks_with_the_fix():
    plan = plan_drain([view("ERROR", name="e")], DEFAULT_POLICY)
    assert plan.moves == []
    assert plan.blockers[0]["id"] == "e"
    assert "server_policy.other to skip" in plan.blockers[0]["reason"]


def test_skip_policy_and_busy_server():
    policy = dict(DEFAULT_POLICY, shutoff="skip", active="cold")
    plan = plan_drain([view("SHUTOFF", name="s"), view("ACTIVE", name="a"), view("ACTIVE", "migrating", name="b")], policy)
    assert [s["id"] for s in plan.skipped] == ["s"]
    assert [(m.server_id, m.kind) for m in plan.moves] == [("a", "cold")]
    assert plan.blockers[0]["id"] == "b" and "busy" in plan.blockers[0]["reason"]


def test_wait_empty_returns_when_empty():
    cloud = FakeCloud()
    assert wait_host_empty(cloud, "compute1", timeout=10, sleep=lambda s: None).empty


def test_wait_empty_timeout_names_servers_and_projects():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="web-1", project_id="tenant-a")
    cloud.allocations["compute1"]["migration-x"] = {"resources": {"VCPU": 1}}
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    with pytest.raises(HostNotEmpty) as error:
        wait_host_empty(cloud, "compute1", timeout=10, poll_interval=5, clock=lambda: now[0], sleep=sleep)
    message = str(error.value)
    assert "web-1" in message and "tenant-a" in message and "ACTIVE" in message
    assert "migration-x" in message
    assert now[0] == 10


def test_anti_affinity_members_and_large_flavors_move_first():
    small = view("ACTIVE", name="a-small")
    small.flavor = {"vcpus": 1, "ram": 256}
    large = view("ACTIVE", name="b-large")
    large.flavor = {"vcpus": 4, "ram": 4096}
    member = view("ACTIVE", name="c-member")
    member.flavor = {"vcpus": 1, "ram": 256}
    member.server_group = {"id": "g", "name": "aa", "policy": "anti-affinity"}
    plan = plan_drain([small, large, member], DEFAULT_POLICY)
    assert [m.server_id for m in plan.moves] == ["c-member", "b-large", "a-small"]


def test_drain_host_disables_moves_and_waits_until_empty():
    cloud = FakeCloud()
    active = cloud.add_server("compute1", name="web-1")
    stopped = cloud.add_server("compute1", name="db-1", status="SHUTOFF")
    report = drain_host(cloud, "compute1", DrainSettings(migration=FAST))
    assert report.changed and report.disabled and report.empty and not report.restored
    assert {m["server_id"]: (m["kind"], m["status"]) for m in report.moved} == {
        active: ("live", "migrated"), stopped: ("cold", "migrated")}
    assert report.service.status == "disabled" and report.service.disabled_by_us
    assert cloud.services["compute1"].disabled_reason == "fenix.maintenance: maintenance"
    assert not cloud.allocations["compute1"]
    assert report.diff()["before"]["servers"] == ["db-1", "web-1"] and report.diff()["after"]["servers"] == []


def test_drain_host_check_mode_predicts_and_changes_nothing():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="web-1")
    report = drain_host(cloud, "compute1", DrainSettings(migration=FAST), check_mode=True)
    assert report.changed and not report.disabled and report.service.status == "disabled"
    assert [(m["name"], m["status"]) for m in report.moved] == [("web-1", "would_migrate")]
    assert cloud.services["compute1"].status == "enabled"
    assert cloud.calls["compute.disable_service"] == 0 and cloud.calls["compute.live_migrate_server"] == 0


def test_drain_host_blocker_stops_before_anything_changes():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="broken", status="ERROR")
    with pytest.raises(DrainStopped, match="cannot drain compute1, nothing was changed: server broken") as stopped:
        drain_host(cloud, "compute1", DrainSettings(migration=FAST))
    assert not stopped.value.report.changed and stopped.value.report.service.status == "enabled"
    assert cloud.calls["compute.disable_service"] == 0


def test_drain_host_failure_enables_the_host_again_or_leaves_it_as_told():
    for restore, status, note in ((True, "enabled", "; the host was enabled again"),
                                  (False, "disabled", "; the host stays disabled (restore_on_failure is false)")):
        cloud = FakeCloud()
        cloud.add_server("compute1", name="web-1")
        cloud.refusals = [http_error(400, "refused")]
        with pytest.raises(DrainStopped) as stopped:
            drain_host(cloud, "compute1", DrainSettings(migration=FAST, restore_on_failure=restore))
        report = stopped.value.report
        assert str(stopped.value).startswith("drain of compute1 failed: web-1") and str(stopped.value).endswith(note)
        assert report.disabled and report.restored is restore and report.moved[0]["status"] == "failed"
        assert cloud.services["compute1"].status == status == report.service.status


def test_drain_host_with_a_stuck_migration_aborts_it_and_enables_the_host_again():
    cloud = FakeCloud(settle_polls=10 ** 6)  # the live migration never ends by itself
    server = cloud.add_server("compute1", name="web-1")
    stuck = MigrationSettings(poll_interval=0, retry_delay=0, retries=0, timeout=0)
    with pytest.raises(DrainStopped) as stopped:
        drain_host(cloud, "compute1", DrainSettings(migration=stuck))
    assert ("drain of compute1 failed: web-1 (%s) of project p1: timed out after 0s waiting for the live migration"
            % server) in str(stopped.value)
    assert "on_timeout: abort: aborted migration 1 (running); the server is ACTIVE on compute1, its source" in str(
        stopped.value)
    moved, = stopped.value.report.moved
    assert (moved["status"], moved["timeout_action"]) == ("failed", "aborted")
    assert cloud.servers[server].compute_host == "compute1" and cloud.servers[server].task_state is None
    assert cloud.services["compute1"].status == "enabled" and stopped.value.report.restored


def test_drain_host_with_skipped_servers_reads_once_instead_of_waiting():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="broken", status="ERROR")
    report = drain_host(cloud, "compute1", DrainSettings(policy=dict(DEFAULT_POLICY, other="skip"), migration=FAST,
                                                         timeout=3600))
    assert report.empty is False and [s["name"] for s in report.plan.skipped] == ["broken"]
    assert cloud.calls["compute.servers"] == 2  # the plan's read and one read after the migrations


def test_drain_settings_refuse_a_reason_nova_cannot_keep():
    with pytest.raises(ValueError, match="reason: "):
        DrainSettings(reason="x" * 300)
