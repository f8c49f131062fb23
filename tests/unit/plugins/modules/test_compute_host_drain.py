from ansible_collections.fenix.maintenance.plugins.modules.compute_host_drain import ComputeHostDrainModule
from fakes import FakeCloud, http_error
from module_runner import run_module

FAST = dict(poll_interval=0, retry_delay=0)


def run(cloud, check_mode=False, diff=False, **args):
    return run_module(ComputeHostDrainModule, dict(FAST, **args), cloud, check_mode=check_mode, diff=diff)


def test_drain_moves_everything_and_second_run_is_unchanged():
    cloud = FakeCloud()
    active = cloud.add_server("compute1")
    stopped = cloud.add_server("compute1", status="SHUTOFF")
    result = run(cloud, host="compute1")
    assert result["changed"] and result["disabled"] and result["empty"]
    assert {m["server_id"]: m["kind"] for m in result["moved"]} == {active: "live", stopped: "cold"}
    assert cloud.services["compute1"].status == "disabled"
    assert all(s.compute_host != "compute1" for s in cloud.servers.values())
    assert cloud.servers[stopped].status == "SHUTOFF"
    again = run(cloud, host="compute1")
    assert again["changed"] is False and again["moved"] == []


def test_check_mode_reports_plan_and_changes_nothing():
    cloud = FakeCloud()
    server = cloud.add_server("compute1", name="web-1")
    result = run(cloud, check_mode=True, diff=True, host="compute1")
    assert result["changed"] is True
    assert [(m["name"], m["kind"], m["status"]) for m in result["moved"]] == [("web-1", "live", "would_migrate")]
    assert result["diff"]["before"]["servers"] == ["web-1"] and result["diff"]["after"]["servers"] == []
    assert cloud.services["compute1"].status == "enabled"
    assert cloud.servers[server].compute_host == "compute1"


def test_blockers_fail_before_disabling():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="broken", status="ERROR")
    cloud.add_server("compute1", name="ok")
    result = run(cloud, host="compute1")
    assert result["failed"] and "broken" in result["msg"] and "nothing was changed" in result["msg"]
    assert cloud.services["compute1"].status == "enabled"
    assert cloud.calls["compute.live_migrate_server"] == 0


def test_skip_policy_leaves_server_and_reports_not_empty():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="broken", status="ERROR")
    result = run(cloud, host="compute1", server_policy={"other": "skip"})
    assert not result["failed"] and result["empty"] is False
    assert [s["name"] for s in result["skipped_servers"]] == ["broken"]


def test_failed_migration_re_enables_the_host_it_disabled():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="web-1")
    cloud.refusals = [http_error(400, "host compute2 has a PCI device mismatch")]
    result = run(cloud, host="compute1", retries=0)
    assert result["failed"] and result["restored"] is True
    assert "web-1" in result["msg"] and "enabled again" in result["msg"]
    assert cloud.services["compute1"].status == "enabled"


def test_failed_migration_leaves_foreign_disable_alone():
    cloud = FakeCloud()
    cloud.services["compute1"].status = "disabled"
    cloud.services["compute1"].disabled_reason = "RMA"
    cloud.add_server("compute1", name="web-1")
    cloud.refusals = [http_error(400, "refused")]
    result = run(cloud, host="compute1", retries=0)
    assert result["failed"] and result["restored"] is False and result["disabled"] is False
    assert cloud.services["compute1"].disabled_reason == "RMA"
