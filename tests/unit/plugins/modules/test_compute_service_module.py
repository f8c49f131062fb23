from ansible_collections.fenix.maintenance.plugins.modules.compute_service import ComputeServiceModule
from fakes import FakeCloud
from module_runner import run_module


def run(cloud, check_mode=False, diff=False, **args):
    return run_module(ComputeServiceModule, dict(args), cloud, check_mode=check_mode, diff=diff)


def test_check_mode_predicts_and_changes_nothing():
    cloud = FakeCloud()
    result = run(cloud, check_mode=True, diff=True, host="compute1", reason="kernel")
    assert result["changed"] is True
    assert result["service"]["status"] == "disabled"
    assert result["diff"]["before"]["status"] == "enabled"
    assert result["diff"]["after"]["disabled_reason"] == "fenix.maintenance: kernel"
    assert cloud.services["compute1"].status == "enabled"
    assert cloud.calls["compute.disable_service"] == 0


def test_disable_then_second_run_unchanged():
    cloud = FakeCloud()
    first = run(cloud, host="compute1", reason="kernel")
    assert first["changed"] is True and first["service"]["disabled_by_us"] is True
    assert cloud.services["compute1"].disabled_reason == "fenix.maintenance: kernel"
    second = run(cloud, host="compute1", reason="kernel")
    assert second["changed"] is False
    assert cloud.calls["compute.disable_service"] == 1


def test_enable_refuses_foreign_disable_and_changes_nothing():
    cloud = FakeCloud()
    cloud.services["compute1"].status = "disabled"
    cloud.services["compute1"].disabled_reason = "RMA ticket 7"
    result = run(cloud, host="compute1", state="enabled")
    assert result["failed"] and "force: true" in result["msg"] and "RMA ticket 7" in result["msg"]
    assert cloud.services["compute1"].status == "disabled"
    forced = run(cloud, host="compute1", state="enabled", force=True)
    assert forced["changed"] and cloud.services["compute1"].status == "enabled"


def test_disable_of_foreign_disable_is_reported_not_taken_over():
    cloud = FakeCloud()
    cloud.services["compute1"].status = "disabled"
    cloud.services["compute1"].disabled_reason = "RMA ticket 7"
    result = run(cloud, host="compute1")
    assert result["changed"] is False and result["owned_by_other"] is True
    assert cloud.services["compute1"].disabled_reason == "RMA ticket 7"


def test_unknown_host_and_long_reason_fail_before_any_change():
    cloud = FakeCloud()
    assert "no nova-compute service runs on 'nope'" in run(cloud, host="nope")["msg"]
    result = run(cloud, host="compute1", reason="x" * 300)
    assert result["failed"] and result["msg"].startswith("reason:")
    assert cloud.services["compute1"].status == "enabled"


def test_forced_down_set_and_cleared():
    cloud = FakeCloud()
    assert run(cloud, host="compute2", forced_down=True)["service"]["forced_down"] is True
    assert cloud.services["compute2"].is_forced_down is True
    result = run(cloud, host="compute2", state="enabled", forced_down=False)
    assert result["changed"] and cloud.services["compute2"].is_forced_down is False
    assert cloud.services["compute2"].status == "enabled"
