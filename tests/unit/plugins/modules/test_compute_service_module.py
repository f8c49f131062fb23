from unittest import mock

from ansible.module_utils import basic

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.modules.compute_service import ComputeServiceModule
from fakes import CallsTogether, FakeCloud
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


def journal_with(tmp_path, *session_ids):
    path = str(tmp_path / "journal.sqlite")
    journal = Journal(path)
    for session_id in session_ids:
        journal.create_session(["compute1", "compute2"], "default", None, {}, {"hosts": []}, session_id=session_id)
    journal.close()
    return path


def test_a_session_disable_names_the_session_check_diff_and_second_run(tmp_path):
    cloud, journal = FakeCloud(), journal_with(tmp_path, "s1")
    check = run(cloud, check_mode=True, diff=True, host="compute1", session_id="s1", journal=journal)
    assert check["changed"] is True and cloud.calls["compute.disable_service"] == 0
    assert check["diff"] == {
        "before": {"host": "compute1", "status": "enabled", "disabled_reason": None, "forced_down": False},
        "after": {"host": "compute1", "status": "disabled", "disabled_reason": "fenix.maintenance: session s1: maintenance",
                  "forced_down": False}}
    assert Journal(journal).hosts_disabled_by_session("s1") == []
    first = run(cloud, host="compute1", session_id="s1", journal=journal)
    assert first["changed"] is True and first["owned_by_other"] is False
    assert cloud.services["compute1"].disabled_reason == "fenix.maintenance: session s1: maintenance"
    assert Journal(journal).hosts_disabled_by_session("s1") == ["compute1"]
    second = run(cloud, host="compute1", session_id="s1", journal=journal)
    assert second["changed"] is False and cloud.calls["compute.disable_service"] == 1


def test_a_failure_reason_replaces_the_sessions_own_reason(tmp_path):
    cloud, journal = FakeCloud(), journal_with(tmp_path, "s1")
    run(cloud, host="compute1", session_id="s1", journal=journal)
    failed = run(cloud, diff=True, host="compute1", session_id="s1", journal=journal,
                 reason="upgrade plugin command failed (rc=2)")
    assert failed["changed"] is True and failed["diff"]["before"]["disabled_reason"] == (
        "fenix.maintenance: session s1: maintenance")
    assert cloud.services["compute1"].disabled_reason == "fenix.maintenance: session s1: upgrade plugin command failed (rc=2)"
    assert run(cloud, host="compute1", session_id="s1", journal=journal,
               reason="upgrade plugin command failed (rc=2)")["changed"] is False


def test_another_session_neither_takes_over_nor_enables_the_host(tmp_path):
    cloud, journal = FakeCloud(), journal_with(tmp_path, "s1", "s2")
    run(cloud, host="compute1", session_id="s1", journal=journal)
    with mock.patch.object(basic.AnsibleModule, "warn") as warn:
        kept = run(cloud, host="compute1", session_id="s2", journal=journal)
    assert kept["changed"] is False and kept["owned_by_other"] is True
    assert warn.call_args.args == ("host compute1 was already disabled by session s1 (disabled_reason:"
                                   " 'fenix.maintenance: session s1: maintenance'); left as it is",)
    assert Journal(journal).hosts_disabled_by_session("s2") == []
    refused = run(cloud, host="compute1", state="enabled", session_id="s2", journal=journal)
    assert refused["failed"] and refused["msg"].startswith(
        "host compute1 is disabled by session s1 (disabled_reason: 'fenix.maintenance: session s1: maintenance'),"
        " not by session s2; it is left disabled. To enable it, resume session s1, or end it")
    assert refused["msg"].endswith("or set force: true to enable it anyway")
    # Nor does a call without a session.
    assert run(cloud, host="compute1", state="enabled")["failed"]
    assert cloud.services["compute1"].status == "disabled" and cloud.calls["compute.enable_service"] == 0
    # The owner enables it, once; the journal forgets the disable.
    check = run(cloud, check_mode=True, diff=True, host="compute1", state="enabled", session_id="s1", journal=journal)
    assert check["changed"] and check["diff"]["after"]["status"] == "enabled"
    assert cloud.services["compute1"].status == "disabled"
    enabled = run(cloud, host="compute1", state="enabled", session_id="s1", journal=journal)
    assert enabled["changed"] and cloud.services["compute1"].status == "enabled"
    assert Journal(journal).hosts_disabled_by_session("s1") == []
    assert run(cloud, host="compute1", state="enabled", session_id="s1", journal=journal)["changed"] is False


def test_force_lets_another_session_take_over_and_enable(tmp_path):
    cloud, journal = FakeCloud(), journal_with(tmp_path, "s1", "s2")
    run(cloud, host="compute1", session_id="s1", journal=journal)
    taken = run(cloud, host="compute1", session_id="s2", journal=journal, force=True)
    assert taken["changed"] and cloud.services["compute1"].disabled_reason == "fenix.maintenance: session s2: maintenance"
    assert Journal(journal).hosts_disabled_by_session("s2") == ["compute1"]
    run(cloud, host="compute2", session_id="s1", journal=journal)
    forced = run(cloud, host="compute2", state="enabled", session_id="s2", journal=journal, force=True)
    assert forced["changed"] and cloud.services["compute2"].status == "enabled"


def test_a_disable_without_session_of_an_earlier_version_is_enabled_by_the_session_that_recorded_it(tmp_path):
    cloud, journal = FakeCloud(), journal_with(tmp_path, "s1", "s2")
    for host in ("compute1", "compute2"):
        cloud.services[host].status, cloud.services[host].disabled_reason = "disabled", "fenix.maintenance: kernel"
    record = Journal(journal)
    record.set_host("s1", "compute1", state="DISABLED", disabled_by_session=True)
    record.close()
    assert run(cloud, host="compute1", state="enabled", session_id="s1", journal=journal)["changed"] is True
    # compute2's journal entry is nowhere: a session may not enable it; a call without a session may.
    refused = run(cloud, host="compute2", state="enabled", session_id="s2", journal=journal)
    assert refused["failed"] and "by fenix.maintenance without a session" in refused["msg"]
    assert run(cloud, host="compute2", state="enabled")["changed"] is True


def test_hosts_disable_a_batch_in_one_run_and_name_the_hosts_disabled_by_others(tmp_path):
    location = str(tmp_path / "journal.sqlite")
    Journal(location).create_session(["compute1", "compute2", "compute3"], session_id="s1")
    cloud = FakeCloud()
    cloud.services["compute2"].status = "disabled"
    cloud.services["compute2"].disabled_reason = "RMA ticket 7"
    hosts = ["compute1", "compute2", "compute3"]
    predicted = run(cloud, check_mode=True, diff=True, hosts=hosts, session_id="s1", journal=location)
    assert predicted["changed"] is True and cloud.calls["compute.disable_service"] == 0
    assert predicted["diff"]["after"]["compute3"]["status"] == "disabled"
    assert predicted["diff"]["after"]["compute2"]["disabled_reason"] == "RMA ticket 7"
    cloud.compute = CallsTogether(cloud.compute, "services", len(hosts))  # a list per host, sent together
    result = run(cloud, hosts=hosts, session_id="s1", journal=location)
    assert not cloud.compute.barrier.broken
    assert result["changed"] is True and "service" not in result
    assert [(one["host"], one["changed"], one["owned_by_other"]) for one in result["results"]] == [
        ("compute1", True, False), ("compute2", False, True), ("compute3", True, False)]
    assert result["owned_by_other_hosts"] == ["compute2"]
    assert cloud.services["compute3"].disabled_reason == "fenix.maintenance: session s1: maintenance"
    assert sorted(Journal(location).hosts_disabled_by_session("s1")) == ["compute1", "compute3"]
    assert run(cloud, hosts=hosts, session_id="s1", journal=location)["changed"] is False

    enabled = run(cloud, hosts=["compute1", "compute3"], state="enabled", session_id="s1", journal=location)
    assert enabled["changed"] is True and enabled["owned_by_other_hosts"] == []
    assert [cloud.services[host].status for host in hosts] == ["enabled", "disabled", "enabled"]


def test_hosts_change_nothing_when_one_of_them_may_not_be_changed():
    cloud = FakeCloud()
    run(cloud, hosts=["compute1", "compute2"], reason="kernel")
    cloud.services["compute2"].disabled_reason = "RMA ticket 7"
    refused = run(cloud, hosts=["compute1", "compute2"], state="enabled")
    assert refused["failed"] and "RMA ticket 7" in refused["msg"]
    unknown = run(cloud, hosts=["compute1", "nope", "nix"], state="enabled")
    assert unknown["failed"] and "hosts: no nova-compute service runs on 'nope', 'nix'" in unknown["msg"]
    assert cloud.services["compute1"].status == "disabled" and cloud.calls["compute.enable_service"] == 0
    assert "mutually exclusive: host|hosts" in run(cloud, host="compute1", hosts=["compute2"])["msg"]
    assert run(cloud, hosts=[])["msg"] == "hosts: give at least one host (or use host)"


def test_maintained_records_the_enabled_hosts_maintained_in_the_same_run(tmp_path):
    location = str(tmp_path / "journal.sqlite")
    Journal(location).create_session(["compute1", "compute2", "compute3"], session_id="s1")
    cloud = FakeCloud()
    run(cloud, hosts=["compute1", "compute2"], session_id="s1", journal=location)

    def records():
        return {one.host: (one.state, one.maintained, one.disabled_by_session) for one in Journal(location).hosts("s1")}
    before = records()
    predicted = run(cloud, check_mode=True, hosts=["compute1", "compute2"], state="enabled", maintained=True,
                    session_id="s1", journal=location)
    assert predicted["changed"] is True and records() == before and cloud.calls["compute.enable_service"] == 0

    enabled = run(cloud, hosts=["compute1", "compute2"], state="enabled", maintained=True, session_id="s1",
                  journal=location)
    assert enabled["changed"] is True and cloud.calls["compute.enable_service"] == 2
    assert records() == {"compute1": ("MAINTAINED", True, False), "compute2": ("MAINTAINED", True, False),
                         "compute3": before["compute3"]}
    again = run(cloud, hosts=["compute1", "compute2"], state="enabled", maintained=True, session_id="s1",
                journal=location)
    assert again["changed"] is False and cloud.calls["compute.enable_service"] == 2

    # A host enabled already (by an earlier run killed before its record) is recorded, and that is a change.
    assert run(cloud, host="compute3", state="enabled", session_id="s1", journal=location)["changed"] is False
    recorded = run(cloud, host="compute3", state="enabled", maintained=True, session_id="s1", journal=location)
    assert recorded["changed"] is True and records()["compute3"] == ("MAINTAINED", True, False)
    assert cloud.calls["compute.enable_service"] == 2


def test_maintained_is_refused_without_a_session_or_for_a_host_outside_it_before_any_change(tmp_path):
    location = str(tmp_path / "journal.sqlite")
    Journal(location).create_session(["compute1"], session_id="s1")
    cloud = FakeCloud()
    run(cloud, hosts=["compute1", "compute2"], reason="kernel")
    without_session = run(cloud, host="compute1", state="enabled", maintained=True)
    assert without_session["failed"] and without_session["msg"].startswith("maintained: ")
    assert "give session_id and state=enabled" in without_session["msg"]
    disabling = run(cloud, host="compute1", maintained=True, session_id="s1", journal=location)
    assert disabling["failed"] and "state=enabled" in disabling["msg"]
    outside = run(cloud, hosts=["compute1", "compute2"], state="enabled", maintained=True, session_id="s1",
                  journal=location)
    assert outside["failed"] and outside["msg"] == (
        "maintained: compute2 is not a host of session s1; its hosts are compute1")
    assert cloud.calls["compute.enable_service"] == 0
    assert [one.maintained for one in Journal(location).hosts("s1")] == [False]
