# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Live and cold migration of servers, with waiting, retries and concurrency.

Nova refuses a migration for reasons that pass by themselves (the scheduler
finds no valid host right after a change, the server is busy with another
task): those refusals are retried with exponential backoff, a bounded number
of times. A cold migration that Nova accepts can still fail later, leaving the
server on its source: the migration record tells, so it is read when a server
ends where it started.

A live migration past its timeout is not left running: it is forced to
complete or aborted, as the operator chose (``on_timeout``), and the server's
state afterwards is reported. While it runs, its progress (memory still to
copy, from Nova's record of the migration) is read at most once every
``progress_interval`` seconds, so a migration that ends within that time costs
no request beyond the polls of the server. Nova cannot abort a cold
migration: one past its timeout is reported with the server's state.

Several migrations at a time run in one loop (MigrationBatch), each waiting
for a slot of its own source host and target host within the overall
``concurrency``, and one poll answers for all of them with one list of the
servers of each host they run on: a poll costs one request per host, not one
per server.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Deque, Dict, Generator, List, Optional, Set, Tuple, Union

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.parallel import call_each
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import servers_on
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.versions import (
    ABORT_FLOOR,
    ABORT_QUEUED_FLOOR,
    FORCE_COMPLETE_FLOOR,
    NEWEST_MIGRATIONS_FLOOR,
    PROGRESS_FLOOR,
    floor_problem,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.clock import seconds_between
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import LIVE_MIGRATE, MIGRATE

LIVE = "live"
COLD = "cold"

# Server states the migrations leave a server in when they are done.
SETTLED_STATUSES = ("ACTIVE", "SHUTOFF", "PAUSED", "VERIFY_RESIZE", "ERROR")
TRANSIENT_MESSAGES = ("no valid host", "novalidhost")
# Nova's ServiceUnavailable (409), which names no host: it sees the server's own host's nova-compute down.
SOURCE_DOWN_MESSAGE = "Service is unavailable at this time."
# Nova's own rules: os-migrateLive needs a running or paused server, migrate a
# running or stopped one.
MIGRATABLE_STATUSES = {LIVE: ("ACTIVE", "PAUSED"), COLD: ("ACTIVE", "SHUTOFF")}

# What to do with a live migration past its timeout (the on_timeout option).
ABORT = "abort"
FORCE_COMPLETE = "force_complete"
ON_TIMEOUT_CHOICES = (ABORT, FORCE_COMPLETE)
# What was done with a migration past its timeout (MigrationOutcome.timeout_action): forced to complete,
# aborted, or only reported (a cold migration, or one Nova would not force or abort).
FORCED = "forced"
ABORTED = "aborted"
REPORTED = "reported"
# Live migrations Nova has not started copying yet: it forces only a running one.
NOT_STARTED = ("queued", "preparing")


class MigrationError(MaintenanceError):
    """A migration that failed; ``transient`` refusals may succeed later; ``target_failed``: the named target
    host failed it (Nova's refusal names it, or Nova accepted it and the server is still on its source)."""

    def __init__(self, message: str, transient: bool = False, target_failed: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.target_failed = target_failed


@dataclass(frozen=True)
class MigrationRequest:
    server_id: str
    kind: str = LIVE
    target_host: Optional[str] = None
    block_migration: Union[bool, str] = "auto"
    # Where the server is, when the caller knows: migrate_all then reads the servers of each such host with one
    # list, instead of one GET per server, to learn whose slot each request waits for.
    source_host: Optional[str] = None


# Migrations at once from one source host: Nova runs a compute's outgoing live migrations
# max_concurrent_live_migrations at a time (1 by default) and queues the others, so 2 keeps the next one queued
# in Nova, starting the moment the running one ends instead of at our next poll, and uses 2 where Nova allows
# more, without long queues that count against a migration's timeout.
DEFAULT_PER_HOST = 2
# Migrations at once into one target host that the request names (the planner's targets): what two sources
# send at DEFAULT_PER_HOST, so that a plan sending many servers to one host does not land them all at once.
DEFAULT_PER_TARGET = 4


@dataclass(frozen=True)
class MigrationSettings:
    wait: bool = True
    timeout: int = 600
    poll_interval: float = 2.0
    retries: int = 3
    retry_delay: float = 5.0
    confirm: bool = True
    concurrency: int = 1  # migrations at once in all
    # At once from one source host and to one named target host (see DEFAULT_PER_HOST, DEFAULT_PER_TARGET).
    concurrency_per_host: int = DEFAULT_PER_HOST
    concurrency_per_target: int = DEFAULT_PER_TARGET
    on_timeout: str = ABORT
    # Seconds between two progress lines of one live migration (each reads its migration record once).
    progress_interval: float = 10.0
    # Seconds to wait for the server to settle once its stuck migration was forced or aborted.
    settle_timeout: float = 120.0
    # A named target that failed a migration is dropped from the later attempts: the scheduler chooses. For the
    # planner's targets, which are choices made before the batch, not the operator's orders.
    target_fallback: bool = False


@dataclass
class MigrationOutcome:
    server_id: str
    name: Optional[str]
    project_id: Optional[str]
    kind: str
    source: Optional[str]
    destination: Optional[str]
    status: str
    attempts: int
    duration: float
    error: Optional[str] = None
    timeout_action: Optional[str] = None  # FORCED, ABORTED or REPORTED when the migration ran past its timeout
    server_state: Optional[dict] = None  # the server after a timeout: status, task_state, host
    progress: List[dict] = field(default_factory=list)
    dropped_target: Optional[str] = None  # the named target that failed an attempt, when later ones had none

    @property
    def ok(self) -> bool:
        return self.status in ("migrated", "requested")

    def as_dict(self) -> dict:
        return asdict(self)


def unmoved_outcome(
    server_id: str,
    name: Optional[str],
    project_id: Optional[str],
    kind: str,
    source: Optional[str],
    status: str,
    error: Optional[str] = None,
) -> MigrationOutcome:
    """The outcome of a server that was not (or not yet) migrated: skipped or planned."""
    return MigrationOutcome(server_id, name, project_id, kind, source, None, status, 0, 0.0, error)


# The migration options that must be at least 1, and those that must not be negative.
MIGRATION_COUNTS = ("concurrency", "concurrency_per_host", "concurrency_per_target")
MIGRATION_DELAYS = ("retries", "retry_delay", "poll_interval")


def migration_argument_spec() -> dict:
    """The options of every module that migrates (documented in the MIGRATION doc fragment)."""
    return dict(
        concurrency=dict(default=1, type="int"),
        concurrency_per_host=dict(default=DEFAULT_PER_HOST, type="int"),
        concurrency_per_target=dict(default=DEFAULT_PER_TARGET, type="int"),
        retries=dict(default=3, type="int"),
        retry_delay=dict(default=5, type="float"),
        poll_interval=dict(default=2, type="float"),
        on_timeout=dict(default=ABORT, choices=list(ON_TIMEOUT_CHOICES)),
    )


def migration_settings(params: dict, timeout: int, confirm: bool = True,
                       target_fallback: bool = False) -> MigrationSettings:
    return MigrationSettings(
        wait=params["wait"],
        timeout=timeout,
        poll_interval=params["poll_interval"],
        retries=params["retries"],
        retry_delay=params["retry_delay"],
        confirm=confirm,
        concurrency=params["concurrency"],
        concurrency_per_host=params["concurrency_per_host"],
        concurrency_per_target=params["concurrency_per_target"],
        on_timeout=params["on_timeout"],
        target_fallback=target_fallback,
    )


def invalid_number(params: dict, at_least_one=(), not_negative=()) -> Optional[str]:
    """A message naming the first option out of range, or None."""
    for name in at_least_one:
        if params[name] < 1:
            return "%s: must be at least 1, got %s" % (name, params[name])
    for name in not_negative:
        if params[name] < 0:
            return "%s: must not be negative, got %s" % (name, params[name])
    return None


Clock = Callable[[], float]
Sleep = Callable[[float], None]
# Told what happens to a migration beyond its outcome: (outcome so far, event kind, details), e.g. for the journal.
Events = Callable[["MigrationOutcome", str, dict], None]


class MigrationTimeout(MigrationError):
    """The server did not settle in time; ``server`` is how it was at the last poll."""

    def __init__(self, timeout: float, server, kind: str) -> None:
        super().__init__("timed out after %ss waiting for the %s migration (%s)" % (timeout, kind, state_text(server)))
        self.server = server


def no_events(outcome: "MigrationOutcome", kind: str, details: dict) -> None:
    """The default of ``Events``: nobody listens."""


# What a migration's steps wait for. The steps (Migrator.steps_of) yield these to whoever drives them:
# Migrator.migrate, one server at a time with one GET of it per poll, or a MigrationBatch, many at once with
# one list of the servers of each host per poll.
@dataclass(frozen=True)
class CurrentState:
    """The server as it is now, before its migration is requested."""

    server_id: str


@dataclass(frozen=True)
class NextState:
    """The server at the next poll; ``paced``: one poll_interval after the previous read of it."""

    server_id: str
    paced: bool


@dataclass(frozen=True)
class Pause:
    """Nothing to do for ``seconds`` (a retry's backoff)."""

    seconds: float


@dataclass(frozen=True)
class Submit:
    """The migration is to be requested of Nova; what its refusal raised is raised in the steps."""

    request: MigrationRequest


Step = Union[CurrentState, NextState, Pause, Submit]
Steps = Generator[Step, object, Optional["MigrationOutcome"]]
# Told when a migration of migrate_all really starts (its slot free) and when it ended.
Started = Callable[[MigrationRequest], None]
Ended = Callable[[MigrationRequest, "MigrationOutcome"], None]


@dataclass(frozen=True)
class ServersRead:
    """Servers the caller listed (one list per source host) just before, and when (the migrator's clock)."""
    servers: List[object]
    at: float


@dataclass
class StartOrder:
    """When each request of migrate_all may start, beyond its slots: after some others, and not before a moment.

    ``after[i]`` lists the indices of the requests that must have ended well before request ``i`` starts (the
    members of its groups in earlier waves); one that failed leaves ``i`` unmoved. ``hold(request)`` is told once
    they have: the seconds the request must still wait (a lead_time, a group's recovery_time), 0 when none.
    """

    after: List[List[int]]
    hold: Callable[[MigrationRequest], float] = lambda request: 0.0


class Migrator:
    """Migrates servers through an openstacksdk connection."""

    def __init__(
        self,
        conn,
        settings: MigrationSettings,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.clock = clock
        self.sleep = sleep

    def migrate_all(self, requests: List[MigrationRequest],
                    events: Events = no_events, started: Optional[Started] = None,
                    ended: Optional[Ended] = None, order: Optional[StartOrder] = None,
                    read: Optional[ServersRead] = None) -> List[MigrationOutcome]:
        """Migrate every request; order kept.

        With ``concurrency`` 1 (or one request) one after the other, each
        polling its own server. Else a MigrationBatch runs them: at most
        ``concurrency`` in all, ``concurrency_per_host`` from one source host
        and ``concurrency_per_target`` to one named target host, a request
        waiting only for its own hosts' slots, and one list of the servers of
        each host per poll answering for every migration in flight.

        ``started(request)`` and ``ended(request, outcome)`` are told when
        each migration really starts (queue time aside) and ends, ``events``
        what happens to it.

        With an ``order`` (StartOrder), a request also waits for the requests
        it comes after and for its hold; a MigrationBatch runs them, whatever
        the concurrency.

        ``read``, the servers the caller listed less than ``poll_interval``
        ago, stands for a MigrationBatch's first read of them.
        """
        if order is None and (self.settings.concurrency <= 1 or len(requests) <= 1):
            return [self._one(request, events, started, ended) for request in requests]
        return MigrationBatch(self, requests, events, started, ended, order, read).run()

    def _one(self, request: MigrationRequest, events: Events, started: Optional[Started],
             ended: Optional[Ended]) -> MigrationOutcome:
        if started is not None:
            started(request)
        outcome = self.migrate(request, events)
        if ended is not None:
            ended(request, outcome)
        return outcome

    def migrate(self, request: MigrationRequest, events: Events = no_events) -> MigrationOutcome:
        """Migrate one server; ``events`` hears its progress lines and what a timeout led to."""
        return self._drive(self.steps_of(request, events))

    def _drive(self, steps: Steps) -> MigrationOutcome:
        """Run one migration's steps to their outcome, reading its server with one GET per poll."""
        reply, error = None, None
        while True:
            try:
                step = steps.throw(error) if error is not None else steps.send(reply)
            except StopIteration as done:
                return done.value
            reply, error = None, None
            if isinstance(step, Pause):
                self.sleep(step.seconds)
                continue
            if isinstance(step, Submit):
                error = self.submitted(step.request)
                continue
            if isinstance(step, NextState) and step.paced:
                self.sleep(self.settings.poll_interval)
            try:
                reply = self.conn.compute.get_server(step.server_id)
            except Exception as exc:  # pylint: disable=broad-except
                error = exc  # raised where the steps asked, as if they had read the server themselves

    def steps_of(self, request: MigrationRequest, events: Events = no_events) -> Steps:
        """The steps of one server's migration, from reading it to its outcome (retries included)."""
        started = self.clock()
        server = yield CurrentState(request.server_id)
        outcome = unmoved_outcome(
            server.id, server.name, server.project_id, request.kind, server.compute_host, "failed"
        )
        for attempt in range(1, self.settings.retries + 2):
            outcome.attempts = attempt
            try:
                outcome.destination = yield from self._attempt(request, outcome, server.status, events)
                outcome.status = "migrated" if self.settings.wait else "requested"
                outcome.error = None
                break
            except MigrationError as exc:
                outcome.error = str(exc)
                falls_back = self._falls_back(request, exc)
                if not (exc.transient or falls_back) or attempt > self.settings.retries:
                    break
                if falls_back:
                    events(outcome, "instance.migration_target_dropped", dict(
                        kind=request.kind, target=request.target_host, attempt=attempt, error=outcome.error))
                    outcome.dropped_target = request.target_host
                    request = replace(request, target_host=None)
                yield Pause(self.settings.retry_delay * (2 ** (attempt - 1)))
            except Exception as exc:  # pylint: disable=broad-except
                # One server's API or network failure must not abandon the
                # others migrating beside it; it is reported with its outcome.
                outcome.error = "%s: %s" % (type(exc).__name__, exc)
                break
        outcome.duration = round(self.clock() - started, 3)
        return outcome

    def _falls_back(self, request: MigrationRequest, failure: MigrationError) -> bool:
        """Whether the next attempt lets the scheduler choose: the named target failed this one."""
        return self.settings.target_fallback and request.target_host is not None and (
            failure.transient or failure.target_failed)

    def _attempt(self, request: MigrationRequest, outcome: MigrationOutcome, original_status: str,
                 events: Events) -> Generator[Step, object, Optional[str]]:
        source = outcome.source
        yield Submit(request)  # Nova's refusal is raised here
        if not self.settings.wait:
            return None
        progress = ProgressLog(self, request.server_id, outcome, events) if request.kind == LIVE else None
        try:
            server = yield from self._wait_settled(request.server_id, request.kind, self.settings.timeout,
                                                   watch=progress)
        except MigrationTimeout as stuck:
            server = yield from self._after_timeout(request, outcome, stuck, events)
        if request.kind == COLD and server.status == "VERIFY_RESIZE":
            if not self.settings.confirm:
                return server.compute_host
            confirm_resize(self.conn, server)
            try:
                server = yield from self._wait_settled(request.server_id, request.kind, self.settings.timeout,
                                                       leaving="VERIFY_RESIZE")
            except MigrationTimeout as stuck:
                server = yield from self._after_timeout(request, outcome, stuck, events)
        if server.status == "ERROR":
            raise MigrationError("server went to ERROR during the %s migration" % request.kind)
        if server.compute_host == source:
            raise self._failure_from_record(request, source)
        if server.status != original_status:
            raise MigrationError(
                "server is %s on %s after the migration, it was %s before"
                % (server.status, server.compute_host, original_status)
            )
        return server.compute_host

    def submitted(self, request: MigrationRequest) -> Optional[BaseException]:
        """The migration requested of Nova; what Nova's refusal (or the request's failure) raised, if any."""
        try:
            self._request(request)
        except Exception as exc:  # pylint: disable=broad-except
            return exc  # raised in the migration's steps, where they asked for it
        return None

    def _request(self, request: MigrationRequest) -> None:
        exceptions = _sdk_exceptions()
        try:
            if request.kind == LIVE:
                self.conn.compute.live_migrate_server(
                    request.server_id,
                    host=request.target_host,
                    block_migration=request.block_migration,
                )
            else:
                self.conn.compute.migrate_server(request.server_id, host=request.target_host)
        except exceptions.HttpException as exc:
            message = _http_message(exc)
            # e.g. 400 "Compute service of compute4 is unavailable at this time." (pre-checks before 2.34)
            names_target = request.target_host is not None and request.target_host in message
            raise MigrationError(
                "Nova refused the %s migration: %s%s" % (request.kind, message, refusal_hint(message)),
                transient=is_transient_refusal(exc.status_code, message),
                target_failed=names_target,
            ) from exc

    def _wait_settled(self, server_id: str, kind: str, timeout: float, leaving: Optional[str] = None,
                      watch: Optional[Callable[[object], None]] = None) -> Generator[Step, object, object]:
        """Poll until the server has no task and left the ``leaving`` status; MigrationTimeout after ``timeout``.

        ``watch`` sees the server at each poll that does not end the wait.
        """
        deadline = self.clock() + timeout
        server = yield NextState(server_id, paced=False)
        while True:
            if is_settled(server) and server.status != leaving:
                return server
            if self.clock() >= deadline:
                raise MigrationTimeout(timeout, server, kind)
            if watch is not None:
                watch(server)
            server = yield NextState(server_id, paced=True)

    def _after_timeout(self, request: MigrationRequest, outcome: MigrationOutcome, stuck: MigrationTimeout,
                       events: Events) -> Generator[Step, object, object]:
        """End a migration past its timeout as the settings say; the server when it settled off its source.

        A live migration is forced or aborted and the server waited for; a
        cold one cannot be stopped and is reported. Anything but a server
        settled on another host raises MigrationError with the server's state.
        """
        if request.kind == LIVE:
            server, action, what = yield from self._end_live_migration(request.server_id, stuck.server,
                                                                       outcome.source)
        else:
            server, action = stuck.server, REPORTED
            what = ("Nova cannot abort a cold migration, it was left running: %s; %s; see"
                    " `openstack server migration list --server %s`" % (
                        where(server, outcome.source), self._latest_record_text(request.server_id),
                        request.server_id))
        outcome.timeout_action = action
        outcome.server_state = server_state(server)
        events(outcome, "instance.migration_timeout", dict(
            kind=request.kind, timeout=self.settings.timeout, on_timeout=self.settings.on_timeout, action=action,
            server=outcome.server_state, note=what))
        if is_settled(server) and server.status != "ERROR" and server.compute_host != outcome.source:
            return server
        raise MigrationError("%s; %s" % (stuck, what))

    def _end_live_migration(self, server_id: str, server,
                            source: Optional[str]) -> Generator[Step, object, Tuple[object, str, str]]:
        """Force or abort the server's live migration in progress; the server afterwards, the action, what happened."""
        try:
            record = in_progress_migration(self.conn, server_id)
        except Exception as exc:  # pylint: disable=broad-except
            # Without the record nothing can be forced or aborted; the server's state is still worth reporting.
            return server, REPORTED, "reading its migration in progress failed (%s: %s); it was left running: %s" % (
                type(exc).__name__, exc, where(server, source))
        if record is None:
            # It ended between the last poll and this read, or Nova lost track of it.
            server = yield from self._settle(server_id)
            return server, REPORTED, "Nova lists no live migration in progress for it: %s" % where(server, source)
        action, why = self._timeout_action(record)
        floor = FORCE_COMPLETE_FLOOR if action == FORCE_COMPLETE else (
            ABORT_QUEUED_FLOOR if record.status in NOT_STARTED else ABORT_FLOOR)
        was = record_text(record)  # before the request: the SDK may update the record it is given
        problem = floor_problem(self.conn, floor)
        if problem:
            return server, REPORTED, "cannot %s %s: %s; it was left running: %s" % (
                action.replace("_", " "), was, problem, where(server, source))
        try:
            if action == FORCE_COMPLETE:
                self.conn.compute.force_complete_server_migration(record, server_id)
            else:
                self.conn.compute.abort_server_migration(record, server_id, ignore_missing=False)
        except _sdk_exceptions().HttpException as exc:
            # It may have left the state Nova accepts the request in (finished, failed) since it was read.
            server = yield from self._settle(server_id)
            return server, REPORTED, "Nova refused to %s %s: %s; %s" % (
                action.replace("_", " "), was, _http_message(exc), where(server, source))
        server = yield from self._settle(server_id)
        done = FORCED if action == FORCE_COMPLETE else ABORTED
        return server, done, "on_timeout: %s: %s %s%s; %s; %s" % (
            self.settings.on_timeout, done, was, why, where(server, source),
            self._latest_record_text(server_id))

    def _timeout_action(self, record) -> Tuple[str, str]:
        """What to do with a live migration past its timeout, and why when it is not what on_timeout says."""
        if self.settings.on_timeout == FORCE_COMPLETE and record.status in NOT_STARTED:
            return ABORT, ", as Nova forces only a running migration"
        return self.settings.on_timeout, ""

    def _latest_record_text(self, server_id: str) -> str:
        """The newest migration record of the server, for a message (a failed read is said, not raised)."""
        try:
            record = latest_migration(self.conn, server_id)
            return "no migration record" if record is None else "migration %s is now %s" % (record.id, record.status)
        except Exception as exc:  # pylint: disable=broad-except
            return "its migration record could not be read (%s: %s)" % (type(exc).__name__, exc)

    def _settle(self, server_id: str) -> Generator[Step, object, object]:
        """The server once settled, or as it is after ``settle_timeout``."""
        try:
            return (yield from self._wait_settled(server_id, LIVE, self.settings.settle_timeout))
        except MigrationTimeout as still:
            return still.server

    def _failure_from_record(self, request: MigrationRequest, source: Optional[str]) -> MigrationError:
        record = latest_migration(self.conn, request.server_id)
        status = record.status if record is not None else "unknown"
        # Nova records a cold migration that found no host as "error"; the
        # scheduler may find one once capacity frees up, so it is worth retrying.
        transient = request.kind == COLD and status == "error"
        return MigrationError(
            "server is still on %s after the %s migration (migration record status: %s)"
            % (source, request.kind, status),
            transient=transient,
            target_failed=request.target_host is not None,
        )


@dataclass(eq=False)
class _InFlight:
    """One migration of a batch, from its start (its slots taken) to its outcome."""

    index: int
    request: MigrationRequest
    source: Optional[str]  # whose per-host slot it holds
    steps: Optional[Steps] = None  # set once its ``started`` was told
    waiting: Optional[Step] = None  # the poll (CurrentState, NextState), the Pause or the Submit it waits for
    wake: float = 0.0  # when its Pause ends


def waits_for_poll(migration: _InFlight) -> bool:
    return isinstance(migration.waiting, (CurrentState, NextState))


# No slot kept for a waiting group member: (per source host, per target host).
_NO_RESERVATION: Tuple[Counter, Counter] = (Counter(), Counter())


class MigrationBatch:
    """Many migrations in one loop, with slots per source host, per target host and in all, and one poll for all.

    Each migration's steps wait for their server's next state; a poll
    answers every waiting one with one list of the servers of each host one
    of them was last seen on (``GET /servers/detail?all_tenants=1&host=...``,
    every ``poll_interval``). Nova filters the list by one host, not several,
    and no other list gives the status, the task and the host of a server at
    once (the migrations list has no task state nor the server's status). A
    server no longer on its host's list (its live migration ended, its cold
    one moved it) is looked for in the list of its target host when the
    request names one, read alone (``GET /servers/{id}``) when not. So a poll
    costs one request per host, whatever the number of servers on it; the
    servers are read first the same way, one list per source host the
    requests name. Only a migration running longer than ``progress_interval``
    reads its migration record, once per interval, for its progress.
    """

    def __init__(self, migrator: Migrator, requests: List[MigrationRequest], events: Events = no_events,
                 started: Optional[Started] = None, ended: Optional[Ended] = None,
                 order: Optional[StartOrder] = None, read: Optional[ServersRead] = None) -> None:
        self.migrator = migrator
        self.order = order
        self.read = read
        self.settings = migrator.settings
        self.requests = requests
        self.events = events
        self.started = started
        self.ended = ended
        self.wanted = {request.server_id for request in requests}
        self.latest: Dict[str, Tuple[object, float]] = {}  # server id: (its state, when read)
        self.results: List[object] = [None] * len(requests)  # outcomes, or what a migration raised
        self.running: List[_InFlight] = []
        self.next_poll = float("-inf")
        # When the latest two polls began (the first read counting as one): what they read is fresh enough.
        self.poll_starts: Deque[float] = deque(maxlen=2)

    def run(self) -> List[MigrationOutcome]:
        self.read_sources()
        self.loop(self.start)
        return self.outcomes()

    def outcomes(self) -> List[MigrationOutcome]:
        for result in self.results:
            if isinstance(result, BaseException):
                raise result  # as migrate would have raised it, once the others are done
        return list(self.results)

    def loop(self, start: Callable[[int], None]) -> None:
        queued = list(range(len(self.requests)))
        while queued or self.running:
            waiting = len(queued)
            wake = self.start_queued(queued, start)
            self.submit_requests()
            if not self.running:
                if wake is not None:
                    self.migrator.sleep(max(0.0, wake - self.migrator.clock()))
                elif len(queued) == waiting and queued:
                    # Nothing runs, nothing started and nothing is held for a while: the order can never be met.
                    raise MigrationError("migrations of servers %s wait for migrations that never end" % ", ".join(
                        self.requests[index].server_id for index in queued))
                continue  # they all ended at once (wait=false, refusals): start the next ones
            self.wait_until_due(wake)
            self.end_pauses()
            self.submit_requests()
            self.poll_if_due()

    def start_queued(self, queued: List[int], start: Callable[[int], None]) -> Optional[float]:
        """Start the queued requests that may start now; the earliest moment a held one may, if any."""
        wake: Optional[float] = None
        reserved = self.reserved_slots(queued)
        for index in list(queued):
            if len(self.running) >= self.settings.concurrency:
                break
            if self.order is not None:
                after = self.order.after[index]
                if any(self.results[earlier] is None for earlier in after):
                    continue  # an earlier member still moves, or waits itself
                failed = [earlier for earlier in after if not self.ended_well(earlier)]
                if failed:
                    queued.remove(index)
                    self.leave_unmoved(index, failed[0])
                    continue
            if not self.has_slots(index, reserved.get(index, _NO_RESERVATION)):
                continue
            held = self.order.hold(self.requests[index]) if self.order is not None else 0.0
            if held > 0:
                moment = self.migrator.clock() + held
                wake = moment if wake is None else min(wake, moment)
                continue
            queued.remove(index)
            start(index)
        return wake

    def ended_well(self, index: int) -> bool:
        result = self.results[index]
        return isinstance(result, MigrationOutcome) and result.ok

    def leave_unmoved(self, index: int, failed: int) -> None:
        """The request is not started: a request it comes after failed (its outcome names which)."""
        request, earlier = self.requests[index], self.requests[failed]
        self.results[index] = unmoved_outcome(
            request.server_id, None, None, request.kind, request.source_host, "skipped",
            "not started: server %s, which had to move before it, did not move" % earlier.server_id)

    def reserved_slots(self, queued: List[int]) -> Dict[int, Tuple[Counter, Counter]]:
        """Per queued request, the slots of source and target hosts kept for the group members waiting out a hold.

        A member whose earlier members have moved waits only for its recovery_time (or lead_time); a free
        server started in the last slot of its host then would make it wait a whole migration more, and
        with it every later member of its group. Each such member keeps one slot of its source host and one
        of its target host from the requests queued after it.
        """
        if self.order is None:
            return {}
        kept = _NO_RESERVATION
        reserved: Dict[int, Tuple[Counter, Counter]] = {}
        for index in queued:
            reserved[index] = kept  # shared by the requests between two waiting members: a copy per member only
            after = self.order.after[index]
            if not after or not all(self.ended_well(earlier) for earlier in after):
                continue
            request = self.requests[index]
            if self.order.hold(request) > 0:
                sources, targets = Counter(kept[0]), Counter(kept[1])
                sources[self.source_of(request)] += 1
                if request.target_host is not None:
                    targets[request.target_host] += 1
                kept = (sources, targets)
        return reserved

    def has_slots(self, index: int, reserved: Tuple[Counter, Counter] = _NO_RESERVATION) -> bool:
        """Whether the request's source host and its target host each have a free slot (``reserved``: kept for others)."""
        request = self.requests[index]
        kept_sources, kept_targets = reserved
        source = self.source_of(request)
        from_source = sum(1 for migration in self.running if migration.source == source) + kept_sources[source]
        if from_source >= max(1, self.settings.concurrency_per_host):
            return False
        if request.target_host is None:
            return True  # the scheduler's choice is not known before it is made
        to_target = sum(1 for migration in self.running if migration.request.target_host == request.target_host)
        return to_target + kept_targets[request.target_host] < max(1, self.settings.concurrency_per_target)

    def source_of(self, request: MigrationRequest) -> Optional[str]:
        known = self.latest.get(request.server_id)
        return known[0].compute_host if known is not None else request.source_host

    def start(self, index: int) -> None:
        migration = self.take_slots(index)
        if self.started is not None:
            try:
                self.started(migration.request)
            except Exception as exc:  # pylint: disable=broad-except
                # Raised by migrate_all once the others are done.
                self.finish(migration, exc)
                return
        migration.steps = self.migrator.steps_of(migration.request, self.events)
        self.advance(migration)

    def take_slots(self, index: int) -> _InFlight:
        request = self.requests[index]
        migration = _InFlight(index, request, self.source_of(request))
        self.running.append(migration)
        return migration

    def advance(self, migration: _InFlight, reply: object = None, error: Optional[BaseException] = None) -> None:
        """Run the migration's steps until they wait for a poll, a pause or their request to Nova, or end."""
        while True:
            try:
                step = migration.steps.throw(error) if error is not None else migration.steps.send(reply)
            except StopIteration as done:
                self.finish(migration, done.value)
                return
            except Exception as exc:  # pylint: disable=broad-except
                self.finish(migration, exc)  # what its steps let out (its server could not be read at all)
                return
            reply, error = None, None
            if isinstance(step, CurrentState) and self.is_fresh(step.server_id):
                reply = self.latest[step.server_id][0]
                continue
            migration.waiting = step
            if isinstance(step, Pause):
                migration.wake = self.migrator.clock() + step.seconds
            return

    def submit_requests(self) -> None:
        """Request every migration whose steps ask to be requested, together: those started at once (a batch's
        first ones, or several freed slots) reach Nova in the time of one request, not one after the other."""
        submitting = [migration for migration in self.running if isinstance(migration.waiting, Submit)]
        refusals = call_each(lambda migration: self.migrator.submitted(migration.waiting.request), submitting)
        for migration, refusal in zip(submitting, refusals):
            self.advance(migration, error=refusal)

    def finish(self, migration: _InFlight, result: object) -> None:
        self.running.remove(migration)
        self.results[migration.index] = result
        if self.ended is not None and isinstance(result, MigrationOutcome):
            try:
                self.ended(migration.request, result)
            except Exception as exc:  # pylint: disable=broad-except
                self.results[migration.index] = exc  # raised once the others are done, like ``started``

    def wait_until_due(self, wake: Optional[float] = None) -> None:
        """Sleep until the next poll, the end of the first pause or ``wake`` (a held request's), the first of them."""
        due = [migration.wake for migration in self.running if isinstance(migration.waiting, Pause)]
        if wake is not None:
            due.append(wake)
        if any(waits_for_poll(migration) for migration in self.running):
            due.append(self.next_poll)
        if not due:
            return
        delay = min(due) - self.migrator.clock()
        if delay > 0:
            self.migrator.sleep(delay)

    def end_pauses(self) -> None:
        now = self.migrator.clock()
        for migration in list(self.running):
            if isinstance(migration.waiting, Pause) and migration.wake <= now:
                self.advance(migration)

    def poll_if_due(self) -> None:
        waiting = [migration for migration in self.running if waits_for_poll(migration)]
        if waiting and self.migrator.clock() >= self.next_poll:
            self.poll_starts.append(self.migrator.clock())
            self.poll(waiting)
            self.next_poll = self.migrator.clock() + self.settings.poll_interval

    def poll(self, waiting: List[_InFlight]) -> None:
        """Answer every waiting migration with its server's state: one list per host, a GET for a server lost."""
        seen: Dict[str, object] = {}
        listed: Set[str] = set()
        self.list_hosts({self.source_of(migration.request) for migration in waiting}, seen, listed)
        self.list_hosts({migration.request.target_host for migration in waiting
                         if migration.request.server_id not in seen} - listed, seen, listed)
        for migration in waiting:
            server_id = migration.request.server_id
            if server_id in seen:
                self.advance(migration, seen[server_id])
                continue
            try:
                server = self.read_server(server_id)
            except Exception as exc:  # pylint: disable=broad-except
                self.advance(migration, error=exc)
                continue
            self.advance(migration, server)

    def read_sources(self) -> None:
        """Read the servers first: one list per source host the requests name, a GET for each other one.

        The caller's own read of them stands for the lists when it is younger than a poll interval.
        """
        read = self.read
        if read is not None and self.migrator.clock() - read.at <= self.settings.poll_interval:
            self.poll_starts.append(read.at)
            for server in read.servers:
                if server.id in self.wanted:
                    self.latest[server.id] = (server, read.at)
        else:
            self.poll_starts.append(self.migrator.clock())
            self.list_hosts({request.source_host for request in self.requests}, {}, set())
        for request in self.requests:
            if request.server_id not in self.latest:
                try:
                    self.read_server(request.server_id)
                except Exception:  # pylint: disable=broad-except
                    pass  # its migration reads it again, and reports what fails then

    def is_fresh(self, server_id: str) -> bool:
        """Whether one of the latest two polls (or the first read) saw the server, so a migration may start from it.

        Two: a cold migration frees its slot one poll after its server left
        the source host's list (the poll that sees it confirmed), and the
        poll before listed that host, with the servers queued on it. A
        migration starting with an older state waits for the next poll, which
        lists its host; Nova checks the server's state again when asked.
        """
        known = self.latest.get(server_id)
        return known is not None and known[1] >= self.poll_starts[0]

    def list_hosts(self, hosts: Set[Optional[str]], seen: Dict[str, object], listed: Set[str]) -> None:
        """The servers of the batch on ``hosts`` into ``seen``: one list per host
        (GET /servers/detail?all_tenants=1&host=...), the hosts' lists read together."""
        hosts = sorted(host for host in hosts if host is not None)
        listed.update(hosts)
        read = call_each(self.servers_or_empty, hosts)
        now = self.migrator.clock()
        for servers in read:
            for server in servers:
                if server.id in self.wanted:
                    seen[server.id] = server
                    self.latest[server.id] = (server, now)

    def servers_or_empty(self, host: str) -> list:
        try:
            return servers_on(self.migrator.conn, host)
        except Exception:  # pylint: disable=broad-except
            # A failed list costs this poll one GET of each server it should have shown; it fails no migration.
            return []

    def read_server(self, server_id: str):
        server = self.migrator.conn.compute.get_server(server_id)
        self.latest[server_id] = (server, self.migrator.clock())
        return server


class ProgressLog:
    """Progress lines of one live migration, read from Nova's migration record at most every progress_interval.

    Each line goes to the outcome and to ``events``. A cloud without the
    migration record (before compute 2.23) or a failed read gives one line
    saying so, and no more reads.
    """

    def __init__(self, migrator: Migrator, server_id: str, outcome: MigrationOutcome, events: Events) -> None:
        self.migrator = migrator
        self.server_id = server_id
        self.outcome = outcome
        self.events = events
        self.started = migrator.clock()
        self.next_read = self.started + migrator.settings.progress_interval
        self.stopped = False
        self.floor_checked = False

    def __call__(self, server) -> None:
        now = self.migrator.clock()
        if self.stopped or now < self.next_read:
            return
        self.next_read = now + self.migrator.settings.progress_interval
        line = {"elapsed": round(now - self.started, 1)}
        problem = None if self.floor_checked else floor_problem(self.migrator.conn, PROGRESS_FLOOR)
        self.floor_checked = True
        if problem:
            line["unavailable"] = problem
        else:
            try:
                line.update(progress_of(in_progress_migration(self.migrator.conn, self.server_id), server))
            except Exception as exc:  # pylint: disable=broad-except
                # Progress is for the operator's eyes; a failed read must not fail the migration.
                line["unavailable"] = "reading the migration record failed: %s: %s" % (type(exc).__name__, exc)
        self.stopped = "unavailable" in line
        self.outcome.progress.append(line)
        self.events(self.outcome, "instance.migration_progress", line)


def progress_of(record, server) -> dict:
    """A progress line's fields from a live migration record (None: the server's state only)."""
    if record is None:
        return {"migration_status": None, "status": server.status, "task_state": server.task_state}
    total, remaining = record.memory_total_bytes, record.memory_remaining_bytes
    return {
        "migration_id": record.id,
        "migration_status": record.status,
        "memory_total_bytes": total,
        "memory_processed_bytes": record.memory_processed_bytes,
        "memory_remaining_bytes": remaining,
        # What libvirt logs as "memory N% remaining"; unknown when the driver reports no total.
        "memory_remaining_percent": round(remaining * 100 / total) if total and remaining is not None else None,
    }


def is_settled(server) -> bool:
    return server.task_state is None and server.status in SETTLED_STATUSES


def server_state(server) -> dict:
    return {"status": server.status, "task_state": server.task_state, "host": server.compute_host}


def state_text(server) -> str:
    return "status %s, task %s, on %s" % (server.status, server.task_state, server.compute_host)


def where(server, source: Optional[str] = None) -> str:
    """e.g. "the server is ACTIVE on compute1, its source"."""
    text = "the server is %s on %s" % (server.status, server.compute_host)
    if server.task_state is not None:
        text += " (task %s, not settled)" % server.task_state
    if source is not None and server.compute_host == source:
        text += ", its source"
    return text


def record_text(record) -> str:
    return "migration %s (%s)" % (record.id, record.status)


def in_progress_migration(conn, server_id: str):
    """The server's newest live migration in progress (GET /servers/{id}/migrations, 2.23+), or None."""
    records = list(conn.compute.server_migrations(server_id))
    if not records:
        return None
    return max(records, key=lambda record: (record.created_at or "", record.id or 0))


def latest_migration(conn, server_id: str):
    records = list(conn.compute.migrations(server_id=server_id))
    if not records:
        return None
    return max(records, key=lambda record: record.created_at or "")


# The journal's kind of move of a Nova migration record that ended well, by its (migration_type, status).
ENDED_WELL = {("live-migration", "completed"): LIVE_MIGRATE, ("migration", "confirmed"): MIGRATE}


def recent_migration_seconds(conn, limit: int) -> Dict[str, List[float]]:
    """Per kind of move, how long each of the cloud's migrations that ended well lasted, among its latest ``limit``
    (GET /os-migrations, one page, newest first from 2.59; none learnt from an older Nova, which lists them all).

    Nova records a migration when it is asked for and updates it when it ends (a cold one: when it is confirmed),
    so its length is that of the journal's moves, less the run's polling. Nova forgets the migrations of deleted
    servers: a cloud of long-lived servers tells more than a freshly seeded one.
    """
    if floor_problem(conn, NEWEST_MIGRATIONS_FLOOR):
        return {}
    # One raw page: the SDK's listing would ask for the next with a marker 2.59 refuses (the id, not the uuid).
    page = conn.compute.get("/os-migrations?limit=%d" % limit, microversion=NEWEST_MIGRATIONS_FLOOR.microversion)
    durations: Dict[str, List[float]] = {action: [] for action in ENDED_WELL.values()}
    for record in page.json().get("migrations", []):
        action = ENDED_WELL.get((record.get("migration_type"), record.get("status")))
        seconds = seconds_between(record.get("created_at"), record.get("updated_at"))
        if action is not None and seconds is not None and seconds >= 0:
            durations[action].append(seconds)
    return durations


def is_transient_refusal(status_code: Optional[int], message: str) -> bool:
    lowered = message.lower()
    if status_code == 409:
        # A task in progress ends by itself; a server in the wrong vm_state or
        # power_state stays so.
        return "vm_state" not in lowered and "power_state" not in lowered
    return status_code == 400 and any(text in lowered for text in TRANSIENT_MESSAGES)


def refusal_hint(message: str) -> str:
    """What an operator can check when Nova's refusal names no host: "" when the message says enough."""
    if message.strip() != SOURCE_DOWN_MESSAGE:
        return ""
    # Nova's check_instance_host: it takes the first nova-compute service of the server's host, deleted ones
    # included, so a host whose service was deleted and registered again can look down for ever.
    return (" (Nova finds the nova-compute service of the server's host down: see openstack compute service list;"
            " if that host's service was deleted and registered again, Nova may be reading the deleted one, which"
            " nova-manage db archive_deleted_rows removes)")


def unmigratable_reason(kind: str, status: str) -> Optional[str]:
    """Why Nova would refuse to migrate a server in this status this way, or None."""
    if status in MIGRATABLE_STATUSES[kind]:
        return None
    return "a %s server cannot be %s migrated (Nova accepts %s)" % (
        status, kind, ", ".join(MIGRATABLE_STATUSES[kind]))


def _http_message(exc) -> str:
    return str(getattr(exc, "details", None) or exc)


def _sdk_exceptions():
    from openstack import exceptions  # the engine is only called where the SDK is present

    return exceptions


# A cold migration's record once its confirmation reached Nova: it finishes it whoever asked.
CONFIRM_UNDER_WAY = ("confirming", "confirmed")


def confirm_resize(conn, server) -> None:
    """Confirm a cold migration waiting in VERIFY_RESIZE.

    Nova refusing it because another confirmation came first - a run stopped while its confirmation was under
    way, or Nova's resize_confirm_window - is no error: 409 once that one ended (the server is no longer
    VERIFY_RESIZE), 400 "Instance has not been resized" while Nova still carries it out (the migration is
    ``confirming`` and the server still VERIFY_RESIZE). The callers then wait for the server to settle.
    """
    try:
        conn.compute.confirm_server_resize(server)
    except _sdk_exceptions().HttpException as exc:
        if exc.status_code not in (400, 409) or not confirmed_by_another(conn, server.id):
            raise


def confirmed_by_another(conn, server_id: str) -> bool:
    """Whether the server's resize was confirmed, or its confirmation is under way, by another request."""
    if conn.compute.get_server(server_id).status != "VERIFY_RESIZE":
        return True
    latest = max(conn.compute.migrations(server_id=server_id), key=lambda record: int(record.id or 0), default=None)
    return latest is not None and latest.status in CONFIRM_UNDER_WAY


# Migrations Nova still works on, by the status of their os-migrations record ("finished" is a cold
# migration waiting for its confirmation: the server is VERIFY_RESIZE on its target).
UNSETTLED_MIGRATIONS = NOT_STARTED + ("accepted", "pre-migrating", "running", "migrating", "post-migrating",
                                      "finished", "confirming")


def settle_migrations_from(conn, hosts: List[str], timeout: float, poll: float = 2.0,
                           sleep: Callable[[float], None] = time.sleep,
                           clock: Callable[[], float] = time.monotonic) -> List[str]:
    """Wait until no migration that left ``hosts`` is in flight, confirming the cold ones that wait for it.

    For a run stopped in the middle (an API DELETE): Nova finishes what it
    started, and a server left in VERIFY_RESIZE is confirmed where it landed,
    so no server stays MIGRATING or waiting. One migrations list per host and
    poll. Returns the ids of the servers still moving at ``timeout``.
    """
    deadline = clock() + timeout
    while True:
        moving = []
        for host in hosts:
            for record in conn.compute.migrations(source_compute=host):
                if record.status not in UNSETTLED_MIGRATIONS:
                    continue
                if record.status == "finished":
                    server = conn.compute.get_server(record.server_id)
                    if server.status == "VERIFY_RESIZE":
                        confirm_resize(conn, server)
                moving.append(record.server_id)
        if not moving or clock() >= deadline:
            return sorted(set(moving))
        sleep(poll)
