# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Acting on the projects' answers: each instance on the hosts is moved as its project asked.

The planner says where each server goes and in which wave (so that no
instance group loses more than its max_impacted_members at once); the
projects' replies in the journal say how (LIVE_MIGRATE, MIGRATE, or
OWN_ACTION, the project moving or removing it itself). What is about to
happen is written to the journal before it happens; each finished action is
marked done and announced to its project (INSTANCE_ACTION_DONE).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (
    COLD,
    LIVE,
    MigrationOutcome,
    MigrationRequest,
    Migrator,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ProjectRecord
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import LIVE_MIGRATE, MIGRATE, OWN_ACTION

MIGRATION_KIND = {LIVE_MIGRATE: LIVE, MIGRATE: COLD}


class InstanceActionError(MaintenanceError):
    pass


@dataclass
class InstanceWork:
    server_id: str
    project_id: str
    name: Optional[str]
    from_host: str
    status: str
    action: str
    target_host: Optional[str]
    wave: int
    decided_by: str  # "project" (its reply) or "plan" (no action in the reply)
    note: Optional[str] = None
    outcome: Optional[str] = None
    to_host: Optional[str] = None
    duration: float = 0.0
    error: Optional[str] = None
    timeout_action: Optional[str] = None  # what was done with a migration past its timeout (forced, aborted, reported)
    progress: List[dict] = field(default_factory=list)  # progress lines of a long live migration

    def as_dict(self) -> dict:
        return asdict(self)


def default_action(status: str) -> str:
    """What the plan does with a server its project left to the operator: keep it running if it runs."""
    return LIVE_MIGRATE if status == "ACTIVE" else MIGRATE


def decide(servers: list, moves: Dict[str, dict], replies: Dict[str, ProjectRecord],
           allow_nack: bool = False) -> List[InstanceWork]:
    """The work for every server on the hosts: its project's answer, else the plan's kind.

    ``servers`` are the servers on the hosts now (openstacksdk objects),
    ``moves`` the planned moves by server id ({to_host, kind, wave}).
    """
    nacks = sorted(pid for pid, record in replies.items() if record.reply and record.reply.startswith("NACK_"))
    if nacks and not allow_nack:
        raise InstanceActionError("projects %s answered NACK; nothing was moved" % ", ".join(nacks))
    last_wave = max((move.get("wave", 0) for move in moves.values()), default=0)
    work = []
    for server in sorted(servers, key=lambda item: item.id):
        move = moves.get(server.id, {})
        record = replies.get(server.project_id)
        asked = (record.instance_actions or {}).get(server.id) if record else None
        action = asked or move.get("kind") or default_action(server.status)
        note = None
        if action == LIVE_MIGRATE and server.status != "ACTIVE":
            # A stopped server cannot be live-migrated; moving it cold keeps it stopped, as it was.
            action, note = MIGRATE, "LIVE_MIGRATE asked for a %s server: migrated cold" % server.status
        wave = move.get("wave", last_wave + 1 if moves else 0)
        work.append(InstanceWork(server.id, server.project_id, server.name, server.compute_host, server.status,
                                 action, move.get("to_host"), wave, "project" if asked else "plan", note))
    return work


class InstanceActions:
    """Carries out the work wave after wave, journal first, announcing each finished action."""

    def __init__(self, conn, journal: Journal, session_id: str, migrator: Migrator,
                 announce: Callable[[InstanceWork], None], timeout: float, poll_interval: float,
                 list_servers: Callable[[], list], clock=time.monotonic, sleep=time.sleep) -> None:
        self.conn = conn
        self.journal = journal
        self.session_id = session_id
        self.migrator = migrator
        self.announce = announce
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.list_servers = list_servers
        self.clock = clock
        self.sleep = sleep

    def run(self, work: List[InstanceWork]) -> List[InstanceWork]:
        for wave in sorted({item.wave for item in work}):
            batch = [item for item in work if item.wave == wave]
            for item in batch:
                # action_done back to false: a server moved again (its host is maintained later) is not done yet.
                self.journal.set_instance(self.session_id, item.server_id, item.project_id, host=item.from_host,
                                          action=item.action, action_done=False,
                                          details={"target_host": item.target_host, "name": item.name})
            self.migrate([item for item in batch if item.action in MIGRATION_KIND])
            self.await_own_actions([item for item in batch if item.action == OWN_ACTION])
            failed = [item for item in batch if item.outcome != "done"]
            if failed:
                raise InstanceActionError("; ".join(
                    "server %s of project %s (%s): %s" % (item.name or item.server_id, item.project_id, item.action,
                                                          item.error) for item in failed))
        return work

    def migrate(self, items: List[InstanceWork]) -> None:
        requests = [MigrationRequest(item.server_id, MIGRATION_KIND[item.action], item.target_host) for item in items]
        by_server = {item.server_id: item for item in items}

        # Migrations run in threads sharing one journal: the journal serialises their writes.
        def journaled(request: MigrationRequest):
            item = by_server[request.server_id]
            move_id = self.journal.start_move(self.session_id, item.server_id, item.project_id, item.action,
                                              item.from_host, item.target_host)
            outcome = self.migrator.migrate(request, events=self.journal_migration_event)
            self.journal.finish_move(move_id, outcome.ok, outcome.destination, outcome.error)
            return outcome

        for item, outcome in zip(items, self.migrator.migrate_all(requests, each=journaled)):
            item.duration = outcome.duration
            item.timeout_action, item.progress = outcome.timeout_action, outcome.progress
            if outcome.ok:
                self.finish(item, outcome.destination)
            else:
                item.outcome, item.error = "failed", outcome.error

    def journal_migration_event(self, outcome: MigrationOutcome, kind: str, details: dict) -> None:
        """A migration's progress line or what its timeout led to, as an event of the session."""
        self.journal.record_event(self.session_id, kind, host=outcome.source, project_id=outcome.project_id,
                                  instance_id=outcome.server_id, details=details)

    def await_own_actions(self, items: List[InstanceWork]) -> None:
        """Wait until each project has moved (or removed) its server off the host."""
        if not items:
            return
        started = self.clock()
        waiting = {item.server_id: item for item in items}
        move_ids = {item.server_id: self.journal.start_move(self.session_id, item.server_id, item.project_id,
                                                            item.action, item.from_host, item.target_host)
                    for item in items}
        while waiting:
            where = {server.id: server.compute_host for server in self.list_servers()}
            for server_id in list(waiting):
                item = waiting[server_id]
                if where.get(server_id) != item.from_host:
                    item.duration = round(self.clock() - started, 3)
                    self.journal.finish_move(move_ids[server_id], True, where.get(server_id))
                    self.finish(item, where.get(server_id))
                    del waiting[server_id]
            if not waiting:
                return
            if self.clock() - started > self.timeout:
                for item in waiting.values():
                    item.outcome = "failed"
                    item.error = "the project did not move it off %s within %ss (OWN_ACTION)" % (
                        item.from_host, self.timeout)
                    self.journal.finish_move(move_ids[item.server_id], False, None, item.error)
                return
            self.sleep(self.poll_interval)

    def finish(self, item: InstanceWork, destination: Optional[str]) -> None:
        item.outcome, item.to_host = "done", destination
        self.journal.set_instance(self.session_id, item.server_id, item.project_id, host=destination,
                                  action_done=True)
        self.announce(item)
