# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The run's side of the session lease: which run holds it, and the keeper that renews it while the run lives.

A run is one ansible-playbook process: started by hand, by ansible-runner
(the API service's launcher) or by an AWX job. Its holder name starts with
what names that process for good, ``<hostname>:<pid>:<start ticks>:<space>``
(the space tags this boot and pid namespace: a pid names one process only
within both), and goes on, in parentheses, with what a person needs to find
it: the user and what started it.

When a run acquires the lease, a keeper process is forked, in its own session
(killing the playbook's process group leaves it running): it renews the lease
every ttl/3 while the playbook process lives, and releases it once that
process has ended, so a run killed with SIGKILL frees its session within a
second. Where the keeper dies with the run (the machine lost, an execution
node's container removed) the lease expires after its ttl. A run on the
holder's own machine that finds the holder's process ended takes the lease
over at once (``holder_ended``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import socket
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.leases import held_message, lease_expired
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    Lease,
    LeaseHeld,
    LeaseLost,
    SessionNotFound,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.processes import (
    ProcessStat,
    command_line,
    process_stat,
    runs,
)

PLAYBOOK = "ansible-playbook"
RUNNER = "ansible-runner"
# The keeper checks this often whether its run still lives (a read of /proc), and renews every ttl/3.
POLL_SECONDS = 1.0


class RunNotFound(MaintenanceError):
    """The module runs outside any ansible-playbook process: there is no run to hold a lease for."""


class KeeperNotStarted(MaintenanceError):
    """The keeper process could not be started."""


@dataclass(frozen=True)
class RunProcess:
    """The ansible-playbook process of a run, on one machine."""
    hostname: str
    pid: int
    started: int  # clock ticks after boot (/proc/<pid>/stat)
    space: str  # process_space() of its machine

    @property
    def key(self) -> str:
        return "%s:%d:%d:%s" % (self.hostname, self.pid, self.started, self.space)

    def on_this_machine(self) -> bool:
        return self.hostname == socket.gethostname() and self.space == process_space()

    def running(self) -> bool:
        """Whether the process still runs; only meaningful on its own machine."""
        return runs(self.pid, self.started)


def process_space() -> str:
    """A tag of this boot and pid namespace: the same pid and start time name the same process only within both."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="utf-8") as handle:
            boot = handle.read().strip()
    except OSError:
        boot = "unknown boot"
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "unknown pid namespace"
    return hashlib.sha256(("%s %s" % (boot, namespace)).encode()).hexdigest()[:8]


def run_of(holder: str) -> Optional[RunProcess]:
    """The run a holder name names, or None for a holder named otherwise (by another tool, by hand)."""
    parts = holder.split(" ", 1)[0].rsplit(":", 3)
    if len(parts) != 4 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return RunProcess(hostname=parts[0], pid=int(parts[1]), started=int(parts[2]), space=parts[3])


def same_run(holder: str, run: RunProcess) -> bool:
    """Whether ``holder`` names ``run`` (its description in parentheses may have been worded otherwise)."""
    return run_of(holder) == run


def holder_ended(lease: Lease) -> bool:
    """Whether the lease's holder is gone for sure: a run of this machine whose process has ended.

    A holder on another machine, or not named by this module, is never judged
    here: its lease is taken over when it expires.
    """
    run = run_of(lease.holder)
    return run is not None and run.on_this_machine() and not run.running()


def runs_program(arguments: List[str], program: str) -> bool:
    """Whether a command line runs ``program``: as the executable, or as the script an interpreter runs."""
    return any(os.path.basename(argument) == program for argument in arguments[:2])


def find_playbook(pid: int) -> Optional[ProcessStat]:
    """The ansible-playbook process ``pid`` runs under: the topmost of its consecutive ansible-playbook ancestors.

    ansible-playbook forks a worker (same command line) for each task and
    host, and the worker starts the module: the run is the process the
    worker was forked from, which outlives it.
    """
    found = None
    stat = process_stat(pid)
    while stat is not None and stat.pid > 1:
        if runs_program(command_line(stat.pid), PLAYBOOK):
            found = stat
        elif found is not None:
            break
        stat = process_stat(stat.ppid)
    return found


def this_run(environ: Optional[Mapping[str, str]] = None, start: Optional[int] = None) -> Tuple[RunProcess, str]:
    """The run this process is part of, and its holder name; RunNotFound outside ansible-playbook."""
    start = start or os.getppid()
    playbook = find_playbook(start)
    if playbook is None:
        raise RunNotFound(
            "lease: no ansible-playbook process among the parents of this module (from pid %d): a lease is held by"
            " a playbook run, and the module must run on its controller: on localhost with the local connection"
            % start)
    run = RunProcess(hostname=socket.gethostname(), pid=playbook.pid, started=playbook.started,
                     space=process_space())
    about = "user %s, %s" % (owner(playbook.pid), launched_by(playbook, os.environ if environ is None else environ))
    return run, "%s (%s)" % (run.key, about)


def owner(pid: int) -> str:
    """The name of the user a process runs as (a module under become may run as another)."""
    try:
        uid = os.stat("/proc/%d" % pid).st_uid
    except OSError:
        return "unknown"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "uid %d" % uid


def launched_by(playbook: ProcessStat, environ: Mapping[str, str]) -> str:
    """What started the run: an AWX job, ansible-runner (the API's launcher), or the program it was started from."""
    if environ.get("JOB_ID") and environ.get("INVENTORY_ID"):
        return "AWX job %s" % environ["JOB_ID"]  # AWX sets both for the ansible-playbook of a job
    parent = command_line(playbook.ppid)
    if runs_program(parent, RUNNER):
        ident = option_value(parent, "--ident")
        return "ansible-runner" + (" %s" % ident if ident else "")
    return "started from %s" % (program_name(parent) if parent else "pid %d" % playbook.ppid)


def program_name(arguments: List[str]) -> str:
    """The program a command line runs: the script, when an interpreter runs one (python3 /usr/bin/molecule)."""
    program = os.path.basename(arguments[0])
    if program.startswith("python") and len(arguments) > 1 and not arguments[1].startswith("-"):
        return os.path.basename(arguments[1])
    return program


def option_value(arguments: List[str], option: str) -> Optional[str]:
    for index, argument in enumerate(arguments[:-1]):
        if argument == option:
            return arguments[index + 1]
        if argument.startswith(option + "="):
            return argument.split("=", 1)[1]
    return None


# The keeper.

def keep(open_journal: Callable[[], Journal], session_id: str, holder: str, run: RunProcess, ttl: float,
         poll: Optional[float] = None, sleep: Callable[[float], None] = time.sleep,
         monotonic: Callable[[], float] = time.monotonic) -> str:
    """Renew the lease every ttl/3 while ``run`` lives, release it once it has ended; why it stopped.

    ``ended``: the run ended and its lease is released; ``lost``: the lease is
    not the run's any more (released by the run itself at its end, or taken
    over after it expired); ``deleted``: the session is gone; ``unreleased``:
    the journal could not be reached for a ttl after the run ended (the lease
    expires then).
    """
    poll = min(POLL_SECONDS, ttl / 3.0) if poll is None else poll
    journal: Optional[Journal] = None
    renewed = monotonic()  # the acquire that started the keeper
    try:
        while run.running():
            if monotonic() - renewed >= ttl / 3.0:
                try:
                    journal = journal or open_journal()
                    journal.renew_lease(session_id, holder, ttl)
                    renewed = monotonic()
                except LeaseLost:
                    return "lost"
                except SessionNotFound:
                    return "deleted"
                except Exception:  # pylint: disable=broad-except
                    # The journal is out of reach (a database restart, a network cut): try again at each poll,
                    # on a new connection, until the lease is renewed or lost.
                    close_quietly(journal)
                    journal = None
            sleep(poll)
        return release_when_ended(open_journal, session_id, holder, ttl, poll, sleep, monotonic)
    finally:
        close_quietly(journal)


def release_when_ended(open_journal: Callable[[], Journal], session_id: str, holder: str, ttl: float, poll: float,
                       sleep: Callable[[float], None], monotonic: Callable[[], float]) -> str:
    """Release the lease of a run that ended, on a new connection, trying for a ttl while the journal is out of reach."""
    deadline = monotonic() + ttl
    while True:
        journal = None
        try:
            journal = open_journal()
            journal.release_lease(session_id, holder)
            return "ended"
        except Exception:  # pylint: disable=broad-except
            pass  # out of reach: as for a renewal, try again until the lease would have expired anyway
        finally:
            close_quietly(journal)
        if monotonic() >= deadline:
            return "unreleased"
        sleep(poll)


def close_quietly(journal: Optional[Journal]) -> None:
    if journal is None:
        return
    try:
        journal.close()
    except Exception:  # pylint: disable=broad-except
        pass  # a connection that broke is closed already as far as the keeper cares


def start_keeper(location: str, session_id: str, holder: str, run: RunProcess, ttl: float) -> int:
    """Fork the keeper of ``holder``'s lease, detached from the run; its pid.

    The caller must hold no open journal: nothing of a database connection
    may cross a fork.
    """
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        detach_and_keep(location, session_id, holder, run, ttl, read_end, write_end)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read().decode(errors="replace")
    if not answer.isdigit():
        raise KeeperNotStarted("lease: the keeper of session %s's lease did not start (%s); the lease holds for %s s"
                               " unless renewed: run again" % (session_id, answer or "no answer", ttl))
    return int(answer)


def detach_and_keep(location: str, session_id: str, holder: str, run: RunProcess, ttl: float, read_end: int,
                    write_end: int) -> None:
    """In the forked child: a new session, and in it the keeper, forked again so no terminal can reach it.

    Never returns: the child must not run on in the module's code.
    """
    code = 0
    try:
        os.close(read_end)
        os.setsid()
        if os.fork() == 0:
            run_keeper(location, session_id, holder, run, ttl, write_end)
    except BaseException:  # pylint: disable=broad-except
        code = 1
    os._exit(code)


def run_keeper(location: str, session_id: str, holder: str, run: RunProcess, ttl: float, report: int) -> None:
    """The keeper process: say its pid, let go of the run's files, keep the lease. Never returns."""
    code = 0
    try:
        report = detach_files(report)
        os.write(report, str(os.getpid()).encode())
        os.close(report)
        keep(lambda: Journal(location), session_id, holder, run, ttl)
    except BaseException as exc:  # pylint: disable=broad-except
        code = 1
        try:
            os.write(report, ("%s: %s" % (type(exc).__name__, exc)).encode())
        except OSError:
            pass
    os._exit(code)


def detach_files(keep_fd: int) -> int:
    """Standard streams to /dev/null and every other inherited descriptor closed, but ``keep_fd`` (as returned).

    Ansible reads a module's output until every copy of its pipes is closed:
    a keeper holding one would make the task wait for the run's end.
    """
    os.chdir("/")
    if keep_fd < 3:  # a process started without standard streams: move it out of their way
        keep_fd = fcntl.fcntl(keep_fd, fcntl.F_DUPFD, 3)
    null = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(null, stream)
    if null > 2 and null != keep_fd:
        os.close(null)
    highest = max(keep_fd + 1, open_descriptor_limit())
    os.closerange(3, keep_fd)
    os.closerange(keep_fd + 1, highest)
    return keep_fd


def open_descriptor_limit() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 1024


def lease_view(lease: Optional[Lease]) -> Optional[Dict[str, str]]:
    """A lease as modules return it."""
    if lease is None:
        return None
    return {"session_id": lease.session_id, "holder": lease.holder, "acquired_at": lease.acquired_at,
            "renewed_at": lease.renewed_at, "expires_at": lease.expires_at}


# The keeper renews every ttl/3 s: below this, a busy machine or a slow database could let a live run's lease expire.
MINIMUM_TTL = 5


def check_ttl(ttl: float, option: str = "ttl") -> None:
    """ValueError naming ``option`` when a lease of ``ttl`` seconds could expire under a live run."""
    if ttl < MINIMUM_TTL:
        raise ValueError("%s: a lease lasts at least %d seconds (the keeper renews it every ttl/3 s), got %s"
                         % (option, MINIMUM_TTL, ttl))


def current_holder(journal: Journal, session_id: str) -> Tuple[RunProcess, str, Optional[Lease]]:
    """This run, its holder name and the session's lease now. A lease of this run's keeps the name it was
    acquired with (what started the run may read otherwise now)."""
    run, holder = this_run()
    current = journal.lease(session_id)
    if current is not None and same_run(current.holder, run):
        holder = current.holder
    return run, holder, current


def hold_for_this_run(journal: Journal, location: str, session_id: str, ttl: float, check_mode: bool,
                      close: Callable[[], None]) -> Dict[str, object]:
    """This run holds the session's lease, with a keeper renewing it: ``changed``, ``holder``, ``lease``,
    ``taken_over_from`` and ``keeper_pid`` (maintenance_lease's result). Raises LeaseHeld while another live run
    holds it, in check mode too. ``close`` closes the caller's journal before the keeper is forked: nothing of
    this process's database connection may cross into the fork."""
    run, holder, current = current_holder(journal, session_id)
    mine = current is not None and current.holder == holder
    result: Dict[str, object] = dict(changed=not mine, holder=holder, keeper_pid=None,
                                     taken_over_from=None if current is None or mine else current.holder)
    if check_mode:
        held = journal.held_lease(session_id, holder, ended=holder_ended)
        if held is not None:
            raise LeaseHeld(held_message(held, journal.clock()), held)
        result["lease"] = lease_view(current)
        return result
    # A lease of this run's that expired untaken had no keeper renewing it any more: it gets a new one.
    needs_keeper = not mine or lease_expired(current, journal.clock())
    lease = journal.acquire_lease(session_id, holder, ttl, ended=holder_ended)
    result["lease"] = lease_view(lease)
    if needs_keeper:
        close()
        result["keeper_pid"] = start_keeper(location, session_id, lease.holder, run, ttl)
    return result
