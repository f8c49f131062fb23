"""journal/lease_keeper.py: which run holds a session's lease, and the keeper that renews it.

Real processes stand in for the runs: a ``sleep`` is a run's ansible-playbook
process (killing it is killing the run), and small scripts named
``ansible-playbook`` and ``ansible-runner`` make the process tree a module
runs in. The keeper is forked for real, as the module forks it.
"""

import os
import pwd
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.lease_keeper import (
    RunNotFound,
    RunProcess,
    holder_ended,
    keep,
    process_space,
    run_of,
    same_run,
    start_keeper,
    this_run,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import Lease, LeaseHeld, LeaseLost
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.processes import (
    command_line,
    process_stat,
    runs,
)

# Each node of a process tree: says who it is, then runs the next command (after "::") or, the last, sleeps.
NODE = r'''
import os, subprocess, sys, time
print("%s %d" % (os.path.basename(__file__), os.getpid()), flush=True)
rest = sys.argv[1:]
if "::" in rest:
    subprocess.run(rest[rest.index("::") + 1:])
else:
    time.sleep(60)
'''


class Tree:
    """A process tree of scripts, each named as the program it stands for; killed as a whole at the end."""

    def __init__(self, directory, *commands):
        self.directory = directory
        argv = []
        for name, *args in commands:
            path = os.path.join(str(directory), name)
            if not os.path.exists(path):
                with open(path, "w") as handle:
                    handle.write(NODE)
            argv += ([] if not argv else ["::"]) + [sys.executable, path, *args]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, start_new_session=True)
        self.nodes = [self.process.stdout.readline().decode().split() for _command in commands]
        self.pids = [int(pid) for _name, pid in self.nodes]

    def kill(self):
        os.killpg(self.process.pid, 9)
        self.process.wait()


@pytest.fixture
def trees(tmp_path):
    made = []

    def make(*commands):
        made.append(Tree(tmp_path, *commands))
        return made[-1]

    yield make
    for tree in made:
        tree.kill()


@pytest.fixture
def sleepers():
    """Start ``sleep`` processes standing for runs' ansible-playbook processes; all killed at the end."""
    started = []

    def start():
        started.append(subprocess.Popen(["sleep", "60"]))
        return started[-1]

    yield start
    for process in started:
        process.kill()
        process.wait()


def run_for(process, hostname=None, space=None):
    """A run whose ansible-playbook process is ``process``, and its holder name."""
    run = RunProcess(hostname=hostname or socket.gethostname(), pid=process.pid,
                     started=process_stat(process.pid).started, space=space or process_space())
    return run, "%s (user test, started from pytest)" % run.key


def end(process):
    process.kill()
    process.wait()


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within %s s" % timeout
        time.sleep(0.05)


# Which run: the ansible-playbook process among the module's parents.

def test_the_run_is_the_topmost_ansible_playbook_above_the_module(trees):
    # ansible-playbook forks a worker per task (the same command line), and the worker starts the module.
    tree = trees(("bash",), ("ansible-playbook", "site.yml"), ("ansible-playbook", "site.yml"), ("module",))
    _bash, playbook, worker, module = tree.pids
    run, holder = this_run(environ={}, start=module)
    assert (run.pid, run.started) == (playbook, process_stat(playbook).started)
    assert (run.hostname, run.space) == (socket.gethostname(), process_space())
    assert holder == "%s (user %s, started from bash)" % (run.key, owner_name())
    assert run.key == "%s:%d:%d:%s" % (socket.gethostname(), playbook, run.started, process_space())
    assert worker != playbook and run.running()


def owner_name():
    return pwd.getpwuid(os.getuid()).pw_name


def test_a_run_launched_by_ansible_runner_or_awx_says_so(trees):
    tree = trees(("ansible-runner", "run", "/runs/s1", "-p", "fenix.maintenance.rolling_maintenance", "--ident",
                  "s1-2"), ("ansible-playbook", "fenix.maintenance.rolling_maintenance"), ("module",))
    _runner, playbook, module = tree.pids
    run, holder = this_run(environ={}, start=module)
    assert run.pid == playbook
    assert holder == "%s (user %s, ansible-runner s1-2)" % (run.key, owner_name())
    # AWX runs ansible-runner too, and gives the playbook its job's id.
    _run, holder = this_run(environ={"JOB_ID": "4711", "INVENTORY_ID": "3"}, start=module)
    assert holder.endswith(" (user %s, AWX job 4711)" % owner_name())


def test_outside_ansible_playbook_there_is_no_run():
    with pytest.raises(RunNotFound) as missing:
        this_run(environ={}, start=os.getpid())
    assert str(missing.value) == (
        "lease: no ansible-playbook process among the parents of this module (from pid %d): a lease is held by a"
        " playbook run, and the module must run on its controller: on localhost with the local connection"
        % os.getpid())


def test_a_holder_name_is_read_back_whatever_its_description_says(sleepers):
    run, holder = run_for(sleepers())
    assert run_of(holder) == run
    assert same_run(holder, run)
    assert same_run("%s (user other, started from cron)" % run.key, run)
    assert not same_run(run_for(sleepers())[1], run)
    for other in ("AWX job 4711", "ansible-playbook pid 1234 on host-a", "host:12:x:abc (user a)", ":1:2:ab"):
        assert run_of(other) is None


def test_only_a_run_of_this_machine_whose_process_ended_has_ended(sleepers):
    process = sleepers()
    run, holder = run_for(process)
    elsewhere = run_for(process, hostname="other-host")[1]
    other_boot = run_for(process, space="0badf00d")[1]

    def lease(name):
        return Lease("s1", name, "t", "t", "t")  # the times play no part here

    assert not holder_ended(lease(holder))
    end(process)
    assert holder_ended(lease(holder))
    # Another machine's pid, another boot's or pid namespace's, or a holder named otherwise: never judged here.
    assert not holder_ended(lease(elsewhere)) and not holder_ended(lease(other_boot))
    assert not holder_ended(lease("AWX job 4711"))


# The keeper.

@pytest.fixture
def journal(location):
    opened = Journal(location)
    opened.create_session(["compute1"], session_id="s1")
    yield opened
    opened.close()


def keep_in_thread(location, run, holder, ttl):
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(keep(lambda: Journal(location), "s1", holder, run, ttl)),
                              daemon=True)
    thread.start()
    return thread, outcome


def test_the_keeper_renews_while_the_run_lives_and_releases_once_it_ended(location, journal, sleepers):
    process = sleepers()
    run, holder = run_for(process)
    acquired = journal.acquire_lease("s1", holder, 0.9)
    thread, outcome = keep_in_thread(location, run, holder, 0.9)
    time.sleep(1.5)  # five renewal periods, longer than the lease itself
    renewed = journal.lease("s1")
    assert renewed.holder == holder and renewed.acquired_at == acquired.acquired_at
    assert renewed.renewed_at > acquired.renewed_at and renewed.expires_at > acquired.expires_at
    with pytest.raises(LeaseHeld):
        journal.acquire_lease("s1", "another run", 0.9)  # still held: it never expired
    end(process)
    thread.join(timeout=5)
    assert outcome == ["ended"]
    assert journal.lease("s1") is None
    assert [e["kind"] for e in journal.events("s1") if e["kind"].startswith("lease.")] == [
        "lease.acquired", "lease.released"]


def test_the_keeper_stops_when_its_lease_is_released_or_its_session_deleted(location, journal, sleepers):
    run, holder = run_for(sleepers())
    journal.acquire_lease("s1", holder, 0.9)
    thread, outcome = keep_in_thread(location, run, holder, 0.9)
    journal.release_lease("s1", holder)  # the run released it at its end
    thread.join(timeout=5)
    assert outcome == ["lost"]

    journal.acquire_lease("s1", holder, 0.9)
    thread, outcome = keep_in_thread(location, run, holder, 0.9)
    journal.delete_session("s1")
    thread.join(timeout=5)
    assert outcome == ["deleted"]


def test_the_keeper_retries_a_journal_out_of_reach_and_renews_once_it_is_back(sleepers):
    run, holder = run_for(sleepers())
    renewals, attempts = [], []

    class Flaky:
        def renew_lease(self, session_id, name, ttl):
            attempts.append(name)
            if len(attempts) < 3:
                raise OSError("connection refused")
            renewals.append((session_id, name, ttl))
            if len(renewals) == 2:
                raise LeaseLost("taken over")

        def close(self):
            pass

    now = [0.0]
    outcome = keep(Flaky, "s1", holder, run, 3.0, poll=1.0, sleep=lambda s: now.__setitem__(0, now[0] + s),
                   monotonic=lambda: now[0])
    assert outcome == "lost"
    # Due at 1 s (ttl/3), out of reach at 1 s and 2 s, renewed at 3 s, due again at 4 s (lost there).
    assert len(attempts) == 4 and renewals == [("s1", holder, 3.0)] * 2
    assert now[0] == 4.0


def test_a_forked_keeper_outlives_the_process_group_and_frees_the_lease_of_a_killed_run(location, sleepers):
    process = sleepers()
    run, holder = run_for(process)
    journal = Journal(location)
    journal.create_session(["compute1"], session_id="s1")
    journal.acquire_lease("s1", holder, 6)
    journal.close()  # as the module does: a SQLite connection open across the fork would disturb the keeper's
    keeper = start_keeper(location, "s1", holder, run, 6)
    journal = Journal(location)
    stat = process_stat(keeper)
    try:
        assert stat is not None and not stat.ended
        assert os.getsid(keeper) != os.getsid(0)  # its own session: killing the run's group leaves it
        assert os.getpgid(keeper) != os.getpgid(0)
        assert [os.readlink("/proc/%d/fd/%d" % (keeper, fd)) for fd in (0, 1, 2)] == [os.devnull] * 3
        # No copy of the module's pipes: Ansible would wait for the run's end to read the module's output.
        kept = [os.readlink("/proc/%d/fd/%s" % (keeper, fd)) for fd in os.listdir("/proc/%d/fd" % keeper)]
        assert [target for target in kept if target.startswith("pipe:")] == []
        assert command_line(keeper) == command_line(os.getpid())  # forked: the module's own command line
        wait_for(lambda: journal.lease("s1").renewed_at > journal.lease("s1").acquired_at, timeout=5)
        began = time.monotonic()
        end(process)  # SIGKILL: the run leaves nothing behind but its keeper
        wait_for(lambda: journal.lease("s1") is None, timeout=5)
        assert time.monotonic() - began < 2.5  # within a poll, not a ttl
        wait_for(lambda: not runs(keeper, stat.started), timeout=5)
    finally:
        if stat is not None and runs(keeper, stat.started):
            os.kill(keeper, 9)
        journal.close()


def test_a_new_run_on_the_same_machine_takes_over_at_once_from_a_run_that_ended(journal, sleepers):
    killed, resumed = sleepers(), sleepers()
    _run, killed_holder = run_for(killed)
    _run, resumed_holder = run_for(resumed)
    journal.acquire_lease("s1", killed_holder, 60)  # and no keeper: the machine's own check must do
    with pytest.raises(LeaseHeld, match="is being run by %s since" % re.escape(killed_holder)):
        journal.acquire_lease("s1", resumed_holder, 60, ended=holder_ended)
    end(killed)
    assert journal.acquire_lease("s1", resumed_holder, 60, ended=holder_ended).holder == resumed_holder
    assert [e["details"] for e in journal.events("s1") if e["kind"] == "lease.acquired"][-1] == {
        "holder": resumed_holder, "taken_over_from": killed_holder, "holder_ended": True}


def test_a_run_on_another_machine_waits_for_the_expiry(journal, sleepers):
    process = sleepers()
    _run, elsewhere = run_for(process, hostname="other-host")
    journal.acquire_lease("s1", elsewhere, 60)
    end(process)  # a pid of this machine that ended means nothing about another machine's run
    with pytest.raises(LeaseHeld):
        journal.acquire_lease("s1", run_for(sleepers())[1], 60, ended=holder_ended)
