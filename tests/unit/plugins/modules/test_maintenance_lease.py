"""maintenance_lease: one run per session.

The module finds its run among its parent processes; here a ``sleep`` stands
for each run's ansible-playbook process (this_run is replaced by one naming
it), and the keeper is forked for real.
"""

import os
import re
import socket
import subprocess
import time

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.journal import lease_keeper
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.lease_keeper import RunProcess, process_space
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.processes import process_stat, runs
from ansible_collections.fenix.maintenance.plugins.modules.maintenance_lease import MaintenanceLeaseModule
from module_runner import run_module


class Runs:
    """Runs of a session, each a ``sleep`` standing for its ansible-playbook process; all ended at the end."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.processes = []
        self.keepers = []

    def start(self, who="operator"):
        process = subprocess.Popen(["sleep", "60"])
        self.processes.append(process)
        run = RunProcess(socket.gethostname(), process.pid, process_stat(process.pid).started, process_space())
        return process, run, "%s (user %s, started from bash)" % (run.key, who)

    def module(self, run, journal, check_mode=False, **args):
        """The module's result, run as part of ``run`` (a (run, holder) pair)."""
        self.monkeypatch.setattr(lease_keeper, "this_run", lambda: run)
        result = run_module(MaintenanceLeaseModule, dict(args, journal=journal), None, check_mode=check_mode)
        if result.get("keeper_pid"):
            self.keepers.append((result["keeper_pid"], process_stat(result["keeper_pid"]).started))
        return result

    def end(self):
        for process in self.processes:
            process.kill()
            process.wait()
        deadline = time.monotonic() + 10  # each keeper frees its lease and ends within a poll once its run ended
        while any(runs(pid, started) for pid, started in self.keepers) and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def runs_of(monkeypatch):
    made = Runs(monkeypatch)
    yield made
    made.end()


@pytest.fixture
def journal(location):
    opened = Journal(location)
    opened.create_session(["compute1"], session_id="s1")
    opened.close()
    return location


def lease_of(location):
    opened = Journal(location)
    try:
        return opened.lease("s1")
    finally:
        opened.close()


def test_a_run_acquires_the_lease_and_its_keeper_renews_it(runs_of, journal):
    _process, run, holder = runs_of.start()
    result = runs_of.module((run, holder), journal, session_id="s1", ttl=6)
    assert result["failed"] is False and result["changed"] is True
    assert result["holder"] == holder and result["lease"]["holder"] == holder
    assert result["lease"]["session_id"] == "s1" and result["taken_over_from"] is None
    keeper = result["keeper_pid"]
    assert isinstance(keeper, int) and process_stat(keeper) is not None and os.getsid(keeper) != os.getsid(0)
    assert lease_of(journal).holder == holder
    deadline = time.monotonic() + 5
    while lease_of(journal).renewed_at == result["lease"]["renewed_at"]:
        assert time.monotonic() < deadline, "the keeper did not renew the lease within 5 s (ttl 6, every 2 s)"
        time.sleep(0.1)

    again = runs_of.module((run, holder), journal, session_id="s1", ttl=6)
    assert again["changed"] is False and again["keeper_pid"] is None  # renewed; its keeper goes on


def test_a_second_run_fails_at_once_naming_the_holder_and_changes_nothing(runs_of, journal):
    _process, first, first_holder = runs_of.start("alice")
    held = runs_of.module((first, first_holder), journal, session_id="s1")["lease"]
    _process, second, second_holder = runs_of.start("bob")
    began = time.monotonic()
    refused = runs_of.module((second, second_holder), journal, session_id="s1")
    assert time.monotonic() - began < 5
    assert refused["failed"] is True and refused.get("keeper_pid") is None
    assert re.fullmatch(
        r"session s1 is being run by %s since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(lease renewed \d+ s ago, expires"
        r" \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\); wait for that run to end, or stop it and run again: .*"
        % re.escape(first_holder), refused["msg"]), refused["msg"]
    assert "(user alice, started from bash)" in refused["msg"]
    assert lease_of(journal).holder == first_holder and lease_of(journal).acquired_at == held["acquired_at"]
    # Check mode predicts the same refusal.
    predicted = runs_of.module((second, second_holder), journal, check_mode=True, session_id="s1")
    assert predicted["failed"] is True and predicted["msg"].startswith("session s1 is being run by %s since"
                                                                       % first_holder)


def test_a_run_killed_on_this_machine_is_taken_over_at_once(runs_of, journal, monkeypatch):
    killed_process, killed, killed_holder = runs_of.start()
    # Its keeper would free the lease within a second; without one, the machine's own check must do it at once.
    monkeypatch.setattr(lease_keeper, "start_keeper", lambda *args: None)
    runs_of.module((killed, killed_holder), journal, session_id="s1")
    monkeypatch.undo()
    killed_process.kill()
    killed_process.wait()
    _process, resumed, resumed_holder = runs_of.start()
    taken = runs_of.module((resumed, resumed_holder), journal, session_id="s1")
    assert taken["failed"] is False and taken["changed"] is True
    assert taken["taken_over_from"] == killed_holder and taken["lease"]["holder"] == resumed_holder
    assert isinstance(taken["keeper_pid"], int)


def test_a_killed_runs_keeper_frees_the_lease(runs_of, journal):
    killed_process, killed, killed_holder = runs_of.start()
    keeper = runs_of.module((killed, killed_holder), journal, session_id="s1")["keeper_pid"]
    started = process_stat(keeper).started
    killed_process.kill()
    killed_process.wait()
    deadline = time.monotonic() + 5
    while lease_of(journal) is not None or runs(keeper, started):
        assert time.monotonic() < deadline, "the keeper did not free the lease and end within 5 s"
        time.sleep(0.05)


def test_release_gives_up_only_this_runs_lease(runs_of, journal):
    _process, first, first_holder = runs_of.start()
    _process, second, second_holder = runs_of.start()
    runs_of.module((first, first_holder), journal, session_id="s1")
    not_mine = runs_of.module((second, second_holder), journal, session_id="s1", state="released")
    assert not_mine["changed"] is False and not_mine["lease"]["holder"] == first_holder
    predicted = runs_of.module((first, first_holder), journal, check_mode=True, session_id="s1", state="released")
    assert predicted["changed"] is True and lease_of(journal).holder == first_holder
    released = runs_of.module((first, first_holder), journal, session_id="s1", state="released")
    assert released["changed"] is True and released["lease"] is None and lease_of(journal) is None
    again = runs_of.module((first, first_holder), journal, session_id="s1", state="released")
    assert again["changed"] is False
    # Free now: the other run acquires it.
    assert runs_of.module((second, second_holder), journal, session_id="s1")["lease"]["holder"] == second_holder


def test_the_run_is_known_by_its_process_whatever_its_description_says(runs_of, journal):
    _process, run, holder = runs_of.start("alice")
    runs_of.module((run, holder), journal, session_id="s1")
    reworded = "%s (user alice, started from systemd)" % run.key  # its parent shell ended meanwhile
    again = runs_of.module((run, reworded), journal, session_id="s1")
    assert again["changed"] is False and again["holder"] == holder
    released = runs_of.module((run, reworded), journal, session_id="s1", state="released")
    assert released["changed"] is True and lease_of(journal) is None


def test_check_mode_acquires_and_starts_nothing(runs_of, journal):
    _process, run, holder = runs_of.start()
    predicted = runs_of.module((run, holder), journal, check_mode=True, session_id="s1")
    assert predicted["failed"] is False and predicted["changed"] is True
    assert predicted["lease"] is None and predicted["keeper_pid"] is None
    assert lease_of(journal) is None


def test_bad_input_fails_before_anything_changes(runs_of, journal, tmp_path):
    _process, run, holder = runs_of.start()
    short = runs_of.module((run, holder), journal, session_id="s1", ttl=2)
    assert short["failed"] and short["msg"] == (
        "ttl: a lease lasts at least 5 seconds (the keeper renews it every ttl/3 s), got 2.0")
    missing = runs_of.module((run, holder), journal, session_id="s9")
    assert missing["failed"] and missing["msg"].startswith("session_id: session s9 is not in the journal")
    assert lease_of(journal) is None
    nowhere = str(tmp_path / "none" / "journal.sqlite")
    predicted = runs_of.module((run, holder), nowhere, check_mode=True, session_id="s1")
    assert predicted["failed"] and predicted["msg"].startswith("session_id: session s1 is not in the journal")
    assert not os.path.exists(os.path.dirname(nowhere))  # check mode made no journal


def test_outside_a_playbook_run_the_module_fails_saying_where_it_must_run(journal):
    # No this_run stand-in: pytest has no ansible-playbook among its parents.
    result = run_module(MaintenanceLeaseModule, dict(journal=journal, session_id="s1"), None)
    assert result["failed"] and result["msg"].startswith("lease: no ansible-playbook process among the parents")
    assert "on localhost with the local connection" in result["msg"]
    assert lease_of(journal) is None
