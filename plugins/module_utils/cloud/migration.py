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
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Callable, List, Optional, Union

from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError

LIVE = "live"
COLD = "cold"

# Server states the migrations leave a server in when they are done.
SETTLED_STATUSES = ("ACTIVE", "SHUTOFF", "PAUSED", "VERIFY_RESIZE", "ERROR")
TRANSIENT_MESSAGES = ("no valid host", "novalidhost")
# Nova's own rules: os-migrateLive needs a running or paused server, migrate a
# running or stopped one.
MIGRATABLE_STATUSES = {LIVE: ("ACTIVE", "PAUSED"), COLD: ("ACTIVE", "SHUTOFF")}


class MigrationError(MaintenanceError):
    """A migration that failed; ``transient`` refusals may succeed later."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class MigrationRequest:
    server_id: str
    kind: str = LIVE
    target_host: Optional[str] = None
    block_migration: Union[bool, str] = "auto"


@dataclass(frozen=True)
class MigrationSettings:
    wait: bool = True
    timeout: int = 600
    poll_interval: float = 2.0
    retries: int = 3
    retry_delay: float = 5.0
    confirm: bool = True
    concurrency: int = 1


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
MIGRATION_COUNTS = ("concurrency",)
MIGRATION_DELAYS = ("retries", "retry_delay", "poll_interval")


def migration_argument_spec() -> dict:
    """The options of every module that migrates (documented in the MIGRATION doc fragment)."""
    return dict(
        concurrency=dict(default=1, type="int"),
        retries=dict(default=3, type="int"),
        retry_delay=dict(default=5, type="float"),
        poll_interval=dict(default=2, type="float"),
    )


def migration_settings(params: dict, timeout: int, confirm: bool = True) -> MigrationSettings:
    return MigrationSettings(
        wait=params["wait"],
        timeout=timeout,
        poll_interval=params["poll_interval"],
        retries=params["retries"],
        retry_delay=params["retry_delay"],
        confirm=confirm,
        concurrency=params["concurrency"],
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
                    each: Optional[Callable[[MigrationRequest], MigrationOutcome]] = None) -> List[MigrationOutcome]:
        """Migrate every request, at most ``concurrency`` at a time; order kept.

        ``each`` replaces ``migrate`` for one request (a caller wraps it to
        record when each migration really starts and ends, queue time aside).
        """
        each = each or self.migrate
        if self.settings.concurrency <= 1 or len(requests) <= 1:
            return [each(request) for request in requests]
        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            return list(pool.map(each, requests))

    def migrate(self, request: MigrationRequest) -> MigrationOutcome:
        started = self.clock()
        server = self.conn.compute.get_server(request.server_id)
        outcome = unmoved_outcome(
            server.id, server.name, server.project_id, request.kind, server.compute_host, "failed"
        )
        for attempt in range(1, self.settings.retries + 2):
            outcome.attempts = attempt
            try:
                outcome.destination = self._attempt(request, outcome.source, server.status)
                outcome.status = "migrated" if self.settings.wait else "requested"
                outcome.error = None
                break
            except MigrationError as exc:
                outcome.error = str(exc)
                if not exc.transient or attempt > self.settings.retries:
                    break
                self.sleep(self.settings.retry_delay * (2 ** (attempt - 1)))
            except Exception as exc:  # pylint: disable=broad-except
                # One server's API or network failure must not abandon the
                # others migrating beside it; it is reported with its outcome.
                outcome.error = "%s: %s" % (type(exc).__name__, exc)
                break
        outcome.duration = round(self.clock() - started, 3)
        return outcome

    def _attempt(self, request: MigrationRequest, source: Optional[str], original_status: str) -> Optional[str]:
        self._request(request)
        if not self.settings.wait:
            return None
        server = self._wait_settled(request.server_id)
        if request.kind == COLD and server.status == "VERIFY_RESIZE":
            if not self.settings.confirm:
                return server.compute_host
            self.conn.compute.confirm_server_resize(server)
            server = self._wait_settled(request.server_id, leaving="VERIFY_RESIZE")
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
            raise MigrationError(
                "Nova refused the %s migration: %s" % (request.kind, _http_message(exc)),
                transient=is_transient_refusal(exc.status_code, _http_message(exc)),
            ) from exc

    def _wait_settled(self, server_id: str, leaving: Optional[str] = None):
        """Poll until the server has no task and left the ``leaving`` status."""
        deadline = self.clock() + self.settings.timeout
        while True:
            server = self.conn.compute.get_server(server_id)
            busy = server.task_state is not None or server.status not in SETTLED_STATUSES
            if not busy and server.status != leaving:
                return server
            if self.clock() >= deadline:
                raise MigrationError(
                    "timed out after %ss waiting for the migration (status %s, task %s);"
                    " raise timeout or look at the server's migrations"
                    % (self.settings.timeout, server.status, server.task_state)
                )
            self.sleep(self.settings.poll_interval)

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
        )


def latest_migration(conn, server_id: str):
    records = list(conn.compute.migrations(server_id=server_id))
    if not records:
        return None
    return max(records, key=lambda record: record.created_at or "")


def is_transient_refusal(status_code: Optional[int], message: str) -> bool:
    lowered = message.lower()
    if status_code == 409:
        # A task in progress ends by itself; a server in the wrong vm_state or
        # power_state stays so.
        return "vm_state" not in lowered and "power_state" not in lowered
    return status_code == 400 and any(text in lowered for text in TRANSIENT_MESSAGES)


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
