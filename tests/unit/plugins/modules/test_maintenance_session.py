import os
import socket
import subprocess
import time
from types import SimpleNamespace

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.processes import process_stat, runs
from ansible_collections.fenix.maintenance.plugins.modules.maintenance_session import MaintenanceSessionModule
from ansible_collections.fenix.maintenance.plugins.modules.maintenance_session_info import (
    MaintenanceSessionInfoModule,
)
from fakes import FakeCloud
from module_runner import run_module


def session(cloud, journal, check_mode=False, diff=False, **args):
    return run_module(MaintenanceSessionModule, dict(args, journal=journal), cloud, check_mode=check_mode, diff=diff)


def info(journal, **args):
    return run_module(MaintenanceSessionInfoModule, dict(args, journal=journal), None)


def test_create_then_resume_is_unchanged(location):
    cloud, journal = FakeCloud(), location
    created = session(cloud, journal, session_id="chg-1", hosts=["compute2", "compute1"],
                      maintenance_at="2026-12-01 02:00:00", metadata={"release": "2026.2"},
                      actions=[{"plugin": "package_upgrade", "type": "host"}])
    assert created["changed"] and created["created"] and not created["resumed"]
    assert created["session"]["state"] == "MAINTENANCE"
    assert created["session"]["maintenance_at"] == "2026-12-01T02:00:00Z"
    assert [h["host"] for h in created["session"]["hosts"]] == ["compute1", "compute2"]
    assert created["session"]["request"]["actions"][0]["plugin"] == "package_upgrade"
    resumed = session(cloud, journal, session_id="chg-1")
    assert resumed["changed"] is False and resumed["resumed"] is True
    assert Journal(journal).session("chg-1").metadata == {"release": "2026.2"}


def test_empty_hosts_means_every_compute_host(tmp_path):
    result = session(FakeCloud(), str(tmp_path / "j.sqlite"))
    assert [h["host"] for h in result["session"]["hosts"]] == ["compute1", "compute2", "compute3"]


def test_bad_input_fails_before_the_journal_changes(tmp_path):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    bad_host = session(cloud, journal, session_id="x", hosts=["compute9"])
    assert bad_host["failed"] and bad_host["msg"].startswith("hosts: no nova-compute service on compute9")
    bad_time = session(cloud, journal, session_id="x", maintenance_at="tomorrow")
    assert bad_time["failed"] and bad_time["msg"].startswith("maintenance_at:")
    bad_type = session(cloud, journal, session_id="x", actions=[{"plugin": "p", "type": "during"}])
    assert bad_type["failed"] and "type" in bad_type["msg"]
    assert info(journal)["sessions"] == []


def test_check_mode_creates_no_journal(tmp_path):
    journal = str(tmp_path / "sub" / "j.sqlite")
    result = session(FakeCloud(), journal, check_mode=True, session_id="chg-1")
    assert result["changed"] and result["created"]
    assert not os.path.exists(journal)


def test_state_update_with_reason_and_diff(tmp_path):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    session(cloud, journal, session_id="chg-1")
    check = session(cloud, journal, check_mode=True, diff=True, session_id="chg-1",
                    session_state="MAINTENANCE_FAILED", reason="plugin failed")
    assert check["changed"] and check["diff"] == {"before": {"state": "MAINTENANCE"},
                                                  "after": {"state": "MAINTENANCE_FAILED"}}
    assert Journal(journal).session("chg-1").state == "MAINTENANCE"
    failed = session(cloud, journal, session_id="chg-1", session_state="MAINTENANCE_FAILED", reason="plugin failed")
    assert failed["changed"] and failed["session"]["reason"] == "plugin failed"
    again = session(cloud, journal, session_id="chg-1", session_state="MAINTENANCE_FAILED", reason="plugin failed")
    assert again["changed"] is False


def test_delete_enables_only_what_the_session_disabled(tmp_path):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    session(cloud, journal, session_id="chg-1", hosts=["compute1", "compute2", "compute3"])
    record = Journal(journal)
    for host, reason in (("compute1", "fenix.maintenance: chg-1"), ("compute2", "RMA 42")):
        cloud.services[host].status, cloud.services[host].disabled_reason = "disabled", reason
        record.set_host("chg-1", host, state="DISABLED", disabled_by_session=True)
    cloud.services["compute3"].status, cloud.services["compute3"].disabled_reason = "disabled", "fenix.maintenance: other"

    check = session(cloud, journal, check_mode=True, session_id="chg-1", state="absent")
    assert check["changed"] and check["restored_hosts"] == ["compute1"]
    assert cloud.services["compute1"].status == "disabled"

    deleted = session(cloud, journal, session_id="chg-1", state="absent")
    assert deleted["restored_hosts"] == ["compute1"] and deleted["left_disabled"] == ["compute2"]
    assert cloud.services["compute1"].status == "enabled"
    assert cloud.services["compute2"].disabled_reason == "RMA 42"
    assert cloud.services["compute3"].status == "disabled", "not disabled by this session"
    assert info(journal)["sessions"] == []
    assert session(cloud, journal, session_id="chg-1", state="absent")["changed"] is False


def test_info_reads_without_a_cloud(tmp_path):
    journal = str(tmp_path / "j.sqlite")
    assert info(journal) == {"changed": False, "sessions": [], "journal": journal, "failed": False}
    session(FakeCloud(), journal, session_id="a", hosts=["compute1"])
    session(FakeCloud(), journal, session_id="b", hosts=["compute2"])
    both = info(journal)["sessions"]
    assert [s["session_id"] for s in both] == ["a", "b"]
    one = info(journal, session_id="b", events=True)["sessions"]
    assert [s["session_id"] for s in one] == ["b"] and one[0]["events"][0]["kind"] == "session.created"
    assert info(journal, session_id="zzz")["sessions"] == []


def test_info_shows_projects_instances_and_plugin_runs(tmp_path):
    journal = str(tmp_path / "j.sqlite")
    session(FakeCloud(), journal, session_id="a", hosts=["compute1"])
    record = Journal(journal)
    record.set_instance("a", "vm-1", "p1", host="compute1")
    record.notify_project("a", "p1", "PLANNED_MAINTENANCE", allowed_actions=["MIGRATE"])
    record.record_reply("a", "p1", "ACK_PLANNED_MAINTENANCE", {"vm-1": "MIGRATE"})
    record.finish_action(record.start_action("a", "dummy", "pre"), ok=True)
    view = info(journal, session_id="a")["sessions"][0]
    assert view["projects"][0]["reply"] == "ACK_PLANNED_MAINTENANCE"
    assert view["instances"][0]["instance_id"] == "vm-1"
    assert view["action_runs"][0]["state"] == "DONE"


def test_host_updates_and_restore(tmp_path):
    from ansible_collections.fenix.maintenance.plugins.modules.compute_service import ComputeServiceModule
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    session(cloud, journal, session_id="s", hosts=["compute1", "compute2"])
    disabled = run_module(ComputeServiceModule, dict(host="compute1", session_id="s", journal=journal,
                                                     reason="session s"), cloud)
    assert disabled["changed"] and cloud.services["compute1"].status == "disabled"
    assert Journal(journal).hosts_disabled_by_session("s") == ["compute1"]
    progress = session(cloud, journal, session_id="s",
                       host_updates=[{"host": "compute2", "state": "MAINTAINED", "maintained": True}])
    assert progress["changed"]
    again = session(cloud, journal, session_id="s",
                    host_updates=[{"host": "compute2", "state": "MAINTAINED", "maintained": True}])
    assert not again["changed"]
    wrong = session(cloud, journal, session_id="s", host_updates=[{"host": "compute9", "state": "X"}])
    assert wrong["failed"] and "host_updates: compute9 is not a host of session s" in wrong["msg"]
    predicted = session(cloud, journal, check_mode=True, session_id="s", restore_hosts=True)
    assert predicted["restored_hosts"] == ["compute1"] and cloud.services["compute1"].status == "disabled"
    restored = session(cloud, journal, session_id="s", session_state="MAINTENANCE_FAILED", reason="batch 1",
                       restore_hosts=True)
    assert restored["restored_hosts"] == ["compute1"] and cloud.services["compute1"].status == "enabled"
    assert Journal(journal).hosts_disabled_by_session("s") == []
    assert not session(cloud, journal, session_id="s", session_state="MAINTENANCE_FAILED", reason="batch 1",
                       restore_hosts=True)["changed"]


def test_compute_service_needs_the_session_it_names(tmp_path):
    from ansible_collections.fenix.maintenance.plugins.modules.compute_service import ComputeServiceModule
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    session(cloud, journal, session_id="s", hosts=["compute1"])
    missing = run_module(ComputeServiceModule, dict(host="compute1", session_id="nope", journal=journal), cloud)
    assert missing["failed"] and "session_id: session nope is not in the journal" in missing["msg"]
    assert cloud.services["compute1"].status == "enabled"
    predicted = run_module(ComputeServiceModule, dict(host="compute1", session_id="s", journal=journal), cloud,
                           check_mode=True)
    assert predicted["changed"] and Journal(journal).hosts_disabled_by_session("s") == []


def test_summary_counts_what_the_session_did(tmp_path):
    from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.session import session_summary
    clock = iter("2026-11-22T12:00:%02d.000000Z" % second for second in range(60))
    journal = Journal(str(tmp_path / "j.sqlite"), clock=lambda: next(clock))
    journal.create_session(["compute1", "compute2"], session_id="s")
    journal.notify_project("s", "pa", "PLANNED_MAINTENANCE", ["vm-1", "vm-2"], ["LIVE_MIGRATE", "MIGRATE"])
    journal.record_reply("s", "pa", "ACK_PLANNED_MAINTENANCE", {"vm-1": "LIVE_MIGRATE", "vm-2": "MIGRATE"})
    journal.notify_project("s", "pb", "PLANNED_MAINTENANCE", ["vm-3"], ["LIVE_MIGRATE"])
    journal.record_policy_reply("s", "pb", "LIVE_MIGRATE", "silent_policy")
    for server, action in (("vm-1", "LIVE_MIGRATE"), ("vm-2", "MIGRATE"), ("vm-3", "LIVE_MIGRATE")):
        journal.set_instance("s", server, "pa" if server != "vm-3" else "pb", action=action, action_done=True)
    journal.set_host("s", "compute1", maintained=True)
    journal.set_session_state("s", "MAINTENANCE_DONE")
    summary = session_summary(journal, journal.session("s"))
    assert summary["hosts_maintained"] == ["compute1"] and summary["hosts_total"] == 2
    assert summary["moves"] == {"LIVE_MIGRATE": 2, "MIGRATE": 1}
    # The clock ticks once per journal write: pa was asked at :02 and answered at :04.
    assert summary["projects"]["pa"] == {"replies": 1, "decided_by_policy": 0, "decided_at_once": 0,
                                         "last_reply": "ACK_PLANNED_MAINTENANCE",
                                         "median_reply_seconds": 2.0, "max_reply_seconds": 2.0}
    assert summary["projects"]["pb"]["decided_by_policy"] == 1
    assert summary["unreachable"] == {} and summary["silent_projects"] == "ask_again"
    assert summary["total_seconds"] > 0 and summary["state"] == "MAINTENANCE_DONE"


def test_restore_only_some_hosts(tmp_path):
    from ansible_collections.fenix.maintenance.plugins.modules.compute_service import ComputeServiceModule
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    session(cloud, journal, session_id="s", hosts=["compute1", "compute2"])
    for host in ("compute1", "compute2"):
        run_module(ComputeServiceModule, dict(host=host, session_id="s", journal=journal), cloud)
    one = session(cloud, journal, session_id="s", restore_hosts=True, restore_only=["compute2"])
    assert one["restored_hosts"] == ["compute2"]
    assert (cloud.services["compute1"].status, cloud.services["compute2"].status) == ("disabled", "enabled")
    assert Journal(journal).hosts_disabled_by_session("s") == ["compute1"]


def test_resume_failed_goes_back_to_the_state_it_failed_in(tmp_path):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    session(cloud, journal, session_id="s", hosts=["compute1"])
    record = Journal(journal)
    record.set_session_state("s", "PLANNED_MAINTENANCE")
    record.set_session_state("s", "MAINTENANCE_FAILED", "compute1: NACK")
    resumed = session(cloud, journal, session_id="s", resume_failed=True, reason="resumed")
    assert resumed["changed"] and resumed["session"]["state"] == "PLANNED_MAINTENANCE"
    # Not failed: nothing to resume.
    assert not session(cloud, journal, session_id="s", resume_failed=True, reason="resumed")["changed"]
    record.set_session_state("s", "MAINTENANCE")
    record.set_session_state("s", "MAINTENANCE_FAILED", "a NACK")
    assert session(cloud, journal, session_id="s", resume_failed=True)["session"]["state"] == "MAINTENANCE"


def test_creating_on_an_older_cloud_fails_first_in_check_mode_too(tmp_path):
    journal = str(tmp_path / "j.sqlite")
    cloud = FakeCloud()
    cloud.api_versions["placement"] = ("1.0", "1.17")
    message = ("Placement API: this collection needs microversion 1.29 (allocation candidates with every resource"
               " class of each provider; Placement of OpenStack Rocky or later); the cloud offers 1.0 to 1.17")
    for check_mode in (True, False):
        result = session(cloud, journal, check_mode=check_mode, session_id="chg-1")
        assert result["failed"] and result["msg"] == message
    assert not cloud.calls, "no host resolved before the check"
    assert info(journal)["sessions"] == []


def test_a_session_is_checked_once_when_created_not_when_resumed(tmp_path):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    session(cloud, journal, session_id="chg-1")
    assert cloud.version_reads == {"compute": 1, "placement": 1}
    cloud.api_versions["compute"] = ("2.1", "2.42")
    resumed = session(cloud, journal, session_id="chg-1", session_state="MAINTENANCE_COMPLETE")
    assert not resumed["failed"] and resumed["resumed"]
    assert cloud.version_reads == {"compute": 1, "placement": 1}


def test_silent_projects_is_kept_with_the_session_and_changed_on_resume(tmp_path):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    created = session(cloud, journal, session_id="s", hosts=["compute1"])
    assert created["session"]["silent_projects"] == "ask_again"  # today's behaviour unless asked
    kept = session(cloud, journal, session_id="s")
    assert not kept["changed"] and kept["session"]["silent_projects"] == "ask_again"
    predicted = session(cloud, journal, check_mode=True, session_id="s", silent_projects="decide_at_once")
    assert predicted["changed"] and Journal(journal).session("s").silent_projects == "ask_again"
    changed = session(cloud, journal, session_id="s", silent_projects="decide_at_once")
    assert changed["changed"] and changed["session"]["silent_projects"] == "decide_at_once"
    again = session(cloud, journal, session_id="s", silent_projects="decide_at_once")
    assert not again["changed"]
    setting = [e["details"] for e in Journal(journal).events("s") if e["kind"] == "session.setting"]
    assert setting == [{"silent_projects": "decide_at_once", "from": "ask_again"}]
    new = session(cloud, journal, session_id="t", hosts=["compute2"], silent_projects="decide_at_once")
    assert new["created"] and Journal(journal).session("t").silent_projects == "decide_at_once"


def test_silent_projects_refuses_other_values_with_the_choices(tmp_path):
    import pytest
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import JournalError

    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    wrong = session(cloud, journal, session_id="s", hosts=["compute1"], silent_projects="never")
    assert wrong["failed"] and "silent_projects" in wrong["msg"] and "ask_again, decide_at_once" in wrong["msg"]
    assert info(journal)["sessions"] == []
    # the journal says the same to its other writers (the API)
    record = Journal(journal)
    message = ("silent_projects: 'once' is not a choice; use ask_again (ask the project again at each later state)"
               " or decide_at_once (let the silent policy decide for it at once at later states)")
    with pytest.raises(JournalError) as refused:
        record.create_session(["compute1"], session_id="s", silent_projects="once")
    assert str(refused.value) == message
    record.create_session(["compute1"], session_id="s")
    with pytest.raises(JournalError):
        record.set_silent_projects("s", "once")
    assert record.session("s").silent_projects == "ask_again"


def test_one_host_update_for_the_hosts_of_a_batch(tmp_path):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    session(cloud, journal, session_id="s", hosts=["compute1", "compute2", "compute3"])
    batch = [{"hosts": ["compute1", "compute3"], "state": "IN_MAINTENANCE", "details": {"upgrade_started": True}}]
    # A host not in the session fails the call before any host is written.
    wrong = session(cloud, journal, session_id="s", host_updates=[dict(batch[0], hosts=["compute1", "compute9"])])
    assert wrong["failed"] and "host_updates: compute9 is not a host of session s" in wrong["msg"]
    assert {h.host: h.state for h in Journal(journal).hosts("s")}["compute1"] != "IN_MAINTENANCE"
    predicted = session(cloud, journal, check_mode=True, session_id="s", host_updates=batch)
    assert predicted["changed"] and {h.host: h.state for h in Journal(journal).hosts("s")}["compute1"] != "IN_MAINTENANCE"
    recorded = session(cloud, journal, session_id="s", host_updates=batch)
    assert recorded["changed"]
    hosts = {h.host: h for h in Journal(journal).hosts("s")}
    assert hosts["compute1"].state == hosts["compute3"].state == "IN_MAINTENANCE" != hosts["compute2"].state
    assert hosts["compute1"].details["upgrade_started"] and hosts["compute3"].details["upgrade_started"]
    assert "upgrade_started" not in (hosts["compute2"].details or {})
    done = [{"hosts": ["compute1", "compute3"], "state": "MAINTAINED", "maintained": True}]
    assert session(cloud, journal, session_id="s", host_updates=done)["changed"]
    assert not session(cloud, journal, session_id="s", host_updates=done)["changed"]


@pytest.mark.parametrize("update, message", [
    ({"host": "compute1", "hosts": ["compute1"], "state": "X"}, "mutually exclusive: host|hosts"),
    ({"state": "X"}, "one of the following is required: host, hosts"),
])
def test_a_host_update_names_its_host_or_hosts(tmp_path, update, message):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    session(cloud, journal, session_id="s", hosts=["compute1"])
    result = session(cloud, journal, session_id="s", host_updates=[update])
    assert result["failed"] and message in result["msg"], result["msg"]


@pytest.fixture
def playbook_runs(monkeypatch):
    """Stand-ins for ansible-playbook processes (``sleep``), each a (run, holder) pair; `as_run` makes the module
    run as part of one. All end at the end, and the keepers the module started with them."""
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal import lease_keeper
    processes, keepers = [], []

    def start(who):
        process = subprocess.Popen(["sleep", "60"])
        processes.append(process)
        run = lease_keeper.RunProcess(socket.gethostname(), process.pid, process_stat(process.pid).started,
                                      lease_keeper.process_space())
        return run, "%s (user %s, started from bash)" % (run.key, who)

    def as_run(pair):
        monkeypatch.setattr(lease_keeper, "this_run", lambda: pair)

    def keeper_of(result):
        pid = (result.get("held_lease") or {}).get("keeper_pid")
        if pid:
            keepers.append((pid, process_stat(pid).started))
        return pid

    yield SimpleNamespace(start=start, as_run=as_run, keeper_of=keeper_of)
    for process in processes:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 10  # each keeper frees its lease and ends within a poll once its run ended
    while any(runs(pid, started) for pid, started in keepers) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_new_session_and_its_lease_for_this_run_in_one_module_run(tmp_path, playbook_runs):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    first, second = playbook_runs.start("alice"), playbook_runs.start("bob")
    playbook_runs.as_run(first)
    predicted = session(cloud, journal, check_mode=True, session_id="s1", hosts=["compute1"], lease_ttl=30)
    assert predicted["changed"] and predicted["created"] and not os.path.exists(journal)
    created = session(cloud, journal, session_id="s1", hosts=["compute1"], lease_ttl=30)
    assert not created["failed"], created["msg"]
    assert created["changed"] and created["created"] and created["held_lease"]["holder"] == first[1]
    assert playbook_runs.keeper_of(created), "a keeper renews the lease while the run lives"
    lease = Journal(journal).lease("s1")
    assert (lease.holder, created["held_lease"]["lease"]["expires_at"]) == (first[1], lease.expires_at)
    again = session(cloud, journal, session_id="s1", lease_ttl=30)
    assert not again["failed"] and again["changed"] is False and again["held_lease"]["keeper_pid"] is None
    # Another live run finds the session and is refused its lease, in check mode too, naming the holder.
    playbook_runs.as_run(second)
    for check_mode in (True, False):
        refused = session(cloud, journal, check_mode=check_mode, session_id="s1", lease_ttl=30)
        assert refused["failed"] and refused["msg"].startswith("session s1 is being run by %s since" % first[1])
        assert refused["resumed"] is True
    assert Journal(journal).lease("s1").holder == first[1]


def test_a_lease_too_short_is_refused_before_the_session_is_created(tmp_path):
    cloud, journal = FakeCloud(), str(tmp_path / "j.sqlite")
    short = session(cloud, journal, session_id="s1", hosts=["compute1"], lease_ttl=2)
    assert short["failed"] and short["msg"] == (
        "lease_ttl: a lease lasts at least 5 seconds (the keeper renews it every ttl/3 s), got 2.0")
    assert not os.path.exists(journal) or info(journal)["sessions"] == []
