"""Sessions own their disables: which hosts a session takes, and which it gives back (issue 12, item 4)."""

import os

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.modules.compute_service import ComputeServiceModule
from ansible_collections.fenix.maintenance.plugins.modules.maintenance_session import MaintenanceSessionModule
from fakes import FakeCloud
from module_runner import run_module


def session(cloud, journal, check_mode=False, **args):
    return run_module(MaintenanceSessionModule, dict(args, journal=journal), cloud, check_mode=check_mode)


def disable(cloud, host, reason):
    cloud.services[host].status, cloud.services[host].disabled_reason = "disabled", reason


def test_every_host_leaves_out_hosts_disabled_by_someone_else(tmp_path):
    cloud, journal = FakeCloud(hosts=("compute1", "compute2", "compute3", "compute4")), str(tmp_path / "j.sqlite")
    disable(cloud, "compute2", "RMA 77")
    disable(cloud, "compute3", "fenix.maintenance: session other: maintenance")
    created = session(cloud, journal, session_id="s1")
    assert [h["host"] for h in created["session"]["hosts"]] == ["compute1", "compute4"]
    included = session(cloud, journal, session_id="s2", include_disabled=True)
    assert [h["host"] for h in included["session"]["hosts"]] == ["compute1", "compute2", "compute3", "compute4"]


def test_naming_a_host_disabled_by_someone_else_fails_before_the_journal_changes(tmp_path):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    disable(cloud, "compute2", "RMA 77")
    for check_mode in (True, False):
        named = session(cloud, journal, check_mode=check_mode, session_id="s1", hosts=["compute1", "compute2"])
        assert named["failed"] and named["msg"].startswith(
            "hosts: compute2 is disabled by someone else (disabled_reason: 'RMA 77')")
        assert "include_disabled: true" in named["msg"]
    assert not os.path.exists(journal) or Journal(journal).sessions() == []
    included = session(cloud, journal, session_id="s1", hosts=["compute1", "compute2"], include_disabled=True)
    assert not included["failed"] and [h["host"] for h in included["session"]["hosts"]] == ["compute1", "compute2"]
    assert cloud.services["compute2"].disabled_reason == "RMA 77" and not cloud.calls["compute.disable_service"]


def test_abort_enables_the_sessions_own_hosts_and_no_other_sessions(tmp_path):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    session(cloud, journal, session_id="s1", hosts=["compute1", "compute2", "compute3"])
    session(cloud, journal, session_id="s2", hosts=["compute2"])
    for host in ("compute1", "compute2"):
        assert run_module(ComputeServiceModule, dict(host=host, session_id="s1", journal=journal), cloud)["changed"]
    # Session s2 takes compute2 over with force; compute3 carries a reason of an earlier version that s1 recorded.
    run_module(ComputeServiceModule, dict(host="compute2", session_id="s2", journal=journal, force=True), cloud)
    disable(cloud, "compute3", "fenix.maintenance: kernel")
    Journal(journal).set_host("s1", "compute3", state="DISABLED", disabled_by_session=True)

    check = session(cloud, journal, check_mode=True, session_id="s1", restore_hosts=True)
    assert check["restored_hosts"] == ["compute1", "compute3"] and check["left_disabled"] == ["compute2"]
    assert cloud.services["compute1"].status == "disabled"
    aborted = session(cloud, journal, session_id="s1", session_state="MAINTENANCE_FAILED", reason="aborted",
                      restore_hosts=True)
    assert aborted["restored_hosts"] == ["compute1", "compute3"] and aborted["left_disabled"] == ["compute2"]
    assert [cloud.services[h].status for h in ("compute1", "compute2", "compute3")] == ["enabled", "disabled", "enabled"]
    assert cloud.services["compute2"].disabled_reason == "fenix.maintenance: session s2: maintenance"
    deleted = session(cloud, journal, session_id="s2", state="absent")
    assert deleted["restored_hosts"] == ["compute2"] and cloud.services["compute2"].status == "enabled"
