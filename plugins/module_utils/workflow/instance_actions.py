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
from datetime import datetime, timedelta
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (
    COLD,
    LIVE,
    MigrationOutcome,
    MigrationRequest,
    Migrator,
    ServersRead,
    StartOrder,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import group_policy
from ansible_collections.fenix.maintenance.plugins.module_utils.clock import parse_time, utc_datetime
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
    groups: List[str] = field(default_factory=list)  # its Nova server group and Fenix instance group, if any
    waited: Optional[dict] = None  # {seconds, why}: held back by a lead_time or a group's recovery_time

    def as_dict(self) -> dict:
        return asdict(self)


def anti_affinity_breaches(conn, placed: List[InstanceWork]) -> List[str]:
    """Each anti-affinity group of the ``placed`` servers that now has two members on one host, said.

    Reads the server group list and each member of those groups only (none when ``placed`` is in no group).
    """
    wanted = {group for item in placed for group in item.groups}
    if not wanted:
        return []
    breaches = []
    for group in conn.compute.server_groups(all_projects=True):
        if group.id not in wanted or group_policy(group) != "anti-affinity":
            continue
        members_on: Dict[str, List[str]] = {}
        for member in group.member_ids or []:
            members_on.setdefault(conn.compute.get_server(member).compute_host, []).append(member)
        shared = ["%s on %s" % (" and ".join(members), host) for host, members in sorted(members_on.items())
                  if host is not None and len(members) > 1]
        if shared:
            breaches.append("anti-affinity group %s has %s" % (group.name or group.id, ", ".join(shared)))
    return breaches


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
        groups = [group for group in (move.get("group_id"), move.get("fenix_group_id")) if group]
        work.append(InstanceWork(server.id, server.project_id, server.name, server.compute_host, server.status,
                                 action, move.get("to_host"), wave, "project" if asked else "plan", note,
                                 groups=groups))
    return work


@dataclass
class Pacing:
    """When each instance may be acted on, by its project's lead_time and its groups' recovery_time.

    An instance is not moved (nor its OWN_ACTION awaited) before ``lead_time``
    seconds after its project was told of the action (the project's notice of
    the current ask), nor before ``recovery_time`` seconds after the last move
    of another member of any of its groups ended, in this batch or an earlier one.
    """

    notified_at: Dict[str, datetime]  # project id: when it was asked about this batch
    lead_times: Dict[str, float]  # instance id: its lead_time
    recovery_times: Dict[str, float]  # group id: its recovery_time
    last_ended: Dict[str, Dict[str, datetime]]  # group id: {member: when its latest move ended}

    @classmethod
    def from_journal(cls, journal: Journal, session_id: str) -> "Pacing":
        notified = {record.project_id: parse_time(record.notified_at)
                    for record in journal.projects(session_id) if record.notified_at}
        lead_times = {body["instance_id"]: float(body["lead_time"])
                      for body in journal.constraints("instance") if body.get("lead_time")}
        recovery_times = {body["group_id"]: float(body["recovery_time"])
                          for body in journal.constraints("instance_group") if body.get("recovery_time")}
        return cls(notified, lead_times, recovery_times, last_member_moves(journal, session_id, recovery_times))

    def moved(self, item: InstanceWork, ended: datetime) -> None:
        """Count the move of ``item`` that just ended for the recovery_time of its groups."""
        for group in item.groups:
            if group in self.recovery_times:
                self.last_ended.setdefault(group, {})[item.server_id] = ended

    def ready_at(self, item: InstanceWork, now: datetime) -> Tuple[datetime, Optional[str]]:
        """The earliest moment ``item`` may be acted on, and why it is not now (None when it is)."""
        ready, why = now, None
        lead = self.lead_times.get(item.server_id)
        if lead:
            # A project never told (it has no record) is told now, by this wait's start.
            notice = self.notified_at.get(item.project_id, now) + timedelta(seconds=lead)
            if notice > ready:
                ready, why = notice, "lead_time %gs after its project was told" % lead
        for group in item.groups:
            recovery = self.recovery_times.get(group)
            # The instance's own earlier move does not count: it is the next member only after another one.
            others = [(ended, member) for member, ended in self.last_ended.get(group, {}).items()
                      if member != item.server_id]
            if recovery and others:
                ended, member = max(others)
                recovered = ended + timedelta(seconds=recovery)
                if recovered > ready:
                    ready, why = recovered, "recovery_time %gs of group %s after %s moved" % (recovery, group, member)
        return ready, why


def members_before(items: List[InstanceWork]) -> List[List[int]]:
    """For each item, the indices of the items of earlier waves that share a group with it."""
    members: Dict[str, List[Tuple[int, int]]] = {}  # group: (wave, index) of each of its members
    for index, item in enumerate(items):
        for group in item.groups:
            members.setdefault(group, []).append((item.wave, index))
    return [sorted({other for group in item.groups for wave, other in members[group] if wave < item.wave})
            for item in items]


def last_member_moves(journal: Journal, session_id: str,
                      groups_of_interest: Iterable[str]) -> Dict[str, Dict[str, datetime]]:
    """Per group with a recovery_time: when each member's latest move in the session ended."""
    wanted = set(groups_of_interest)
    if not wanted:
        return {}
    groups_of = {record.instance_id: set(record.details.get("groups") or ()) & wanted
                 for record in journal.instances(session_id)}
    last: Dict[str, Dict[str, datetime]] = {}
    for move in journal.moves(session_id):  # in the order they started: a later end overwrites
        if move.ended_at:
            for group in groups_of.get(move.instance_id, ()):
                ended = parse_time(move.ended_at)
                members = last.setdefault(group, {})
                members[move.instance_id] = max(ended, members.get(move.instance_id, ended))
    return last


class InstanceActions:
    """Carries out the work wave after wave, journal first, announcing each finished action."""

    def __init__(self, conn, journal: Journal, session_id: str, migrator: Migrator,
                 announce: Callable[[InstanceWork], None], timeout: float, poll_interval: float,
                 list_servers: Callable[[], list], clock=time.monotonic, sleep=time.sleep,
                 now: Callable[[], datetime] = utc_datetime, read: Optional[ServersRead] = None) -> None:
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
        self.now = now
        self.read = read  # the servers as the caller listed them, for the first migrations to start from

    def run(self, work: List[InstanceWork]) -> List[InstanceWork]:
        if self.overlaps_waves(work):
            self.run_overlapped(work)
            return work
        for wave in sorted({item.wave for item in work}):
            batch = [item for item in work if item.wave == wave]
            self.record_planned(batch)
            self.wait_until_ready(batch)
            self.migrate([item for item in batch if item.action in MIGRATION_KIND])
            self.await_own_actions([item for item in batch if item.action == OWN_ACTION])
            self.check_done(batch)
        return work

    def overlaps_waves(self, work: List[InstanceWork]) -> bool:
        """Whether a wave's moves may start while the wave before still moves others: several waves, several
        migrations at a time, and only migrations (a project's OWN_ACTION is awaited wave by wave)."""
        return (self.migrator.settings.concurrency > 1 and len({item.wave for item in work}) > 1
                and all(item.action in MIGRATION_KIND for item in work))

    def run_overlapped(self, work: List[InstanceWork]) -> None:
        """Every wave in one run of migrations: a move of a later wave waits only for the earlier members of its
        own groups (and for its lead_time and their recovery_time), not for the whole wave before it, so a
        group's next member moves beside the free servers instead of after all of them."""
        # A group's chain of waves is the longest path: its members take a free slot before the free servers do.
        items = sorted(work, key=lambda item: (not item.groups, item.wave))
        self.record_planned(items)
        pacing = Pacing.from_journal(self.journal, self.session_id)
        self.migrate(items, StartOrder(members_before(items), self.holder(items, pacing)), pacing)
        self.check_done(items)

    def record_planned(self, items: List[InstanceWork]) -> None:
        for item in items:
            # action_done back to false: a server moved again (its host is maintained later) is not done yet.
            # Its groups stay with it, so a later batch knows whose move a recovery_time counts from.
            self.journal.set_instance(self.session_id, item.server_id, item.project_id, host=item.from_host,
                                      action=item.action, action_done=False,
                                      details={"target_host": item.target_host, "name": item.name,
                                               "groups": item.groups})

    def check_done(self, items: List[InstanceWork]) -> None:
        failed = [item for item in items if item.outcome != "done"]
        if failed:
            raise InstanceActionError("; ".join(
                "server %s of project %s (%s): %s" % (item.name or item.server_id, item.project_id, item.action,
                                                      item.error) for item in failed))
        # The planner checked the rules for the targets it named; where the scheduler chose, it is checked now.
        breaches = anti_affinity_breaches(self.conn, [item for item in items if item.action in MIGRATION_KIND
                                                      and item.to_host != item.target_host])
        if breaches:
            raise InstanceActionError("where the scheduler placed them, %s" % "; ".join(breaches))

    def holder(self, items: List[InstanceWork], pacing: Pacing) -> Callable[[MigrationRequest], float]:
        """The seconds a move must still wait by its pacing, once its groups' earlier members moved; the first
        time it must, an instance.held event says why."""
        by_server = {item.server_id: item for item in items}

        def hold(request: MigrationRequest) -> float:
            item, now = by_server[request.server_id], self.now()
            ready, why = pacing.ready_at(item, now)
            seconds = (ready - now).total_seconds()
            if why is not None and seconds > 0 and item.waited is None:
                self.record_held(item, ready, why, now)
            return seconds
        return hold

    def record_held(self, item: InstanceWork, ready: datetime, why: str, now: datetime) -> None:
        item.waited = {"seconds": round((ready - now).total_seconds(), 3), "why": why}
        self.journal.record_event(self.session_id, "instance.held", host=item.from_host,
                                  project_id=item.project_id, instance_id=item.server_id,
                                  details=dict(item.waited, until=ready.isoformat()))

    def wait_until_ready(self, batch: List[InstanceWork]) -> None:
        """Hold the wave until every instance of it may be acted on (Pacing), recording why it waited."""
        pacing = Pacing.from_journal(self.journal, self.session_id)
        now = self.now()
        readiness = [(item, *pacing.ready_at(item, now)) for item in batch]
        held = [(item, ready, why) for item, ready, why in readiness if why is not None]
        if not held:
            return
        until = max(ready for _item, ready, _why in held)
        for item, ready, why in held:
            self.record_held(item, ready, why, now)
        # The wave moves together, so its instances wait for the last of them.
        remaining = (until - self.now()).total_seconds()
        if remaining > 0:
            self.sleep(remaining)

    def migrate(self, items: List[InstanceWork], order: Optional[StartOrder] = None,
                pacing: Optional[Pacing] = None) -> None:
        """Migrate the items, each recorded as its move starts and ends, and announced as soon as it is done."""
        requests = [MigrationRequest(item.server_id, MIGRATION_KIND[item.action], item.target_host,
                                     source_host=item.from_host) for item in items]
        by_server = {item.server_id: item for item in items}
        move_ids: Dict[str, int] = {}

        def started(request: MigrationRequest) -> None:
            item = by_server[request.server_id]
            move_ids[item.server_id] = self.journal.start_move(self.session_id, item.server_id, item.project_id,
                                                               item.action, item.from_host, item.target_host)

        def ended(request: MigrationRequest, outcome: MigrationOutcome) -> None:
            item = by_server[request.server_id]
            self.journal.finish_move(move_ids[item.server_id], outcome.ok, outcome.destination, outcome.error)
            if pacing is not None and outcome.ok:
                pacing.moved(item, self.now())
            self.settle(item, outcome)

        read, self.read = self.read, None  # only the first migrations are started from it
        outcomes = self.migrator.migrate_all(requests, events=self.journal_migration_event, started=started,
                                             ended=ended, order=order, read=read)
        for item, outcome in zip(items, outcomes):
            if item.outcome is None:  # never started: a member it had to follow did not move
                item.outcome, item.error = "failed", outcome.error

    def settle(self, item: InstanceWork, outcome: MigrationOutcome) -> None:
        item.duration = outcome.duration
        item.timeout_action, item.progress = outcome.timeout_action, outcome.progress
        if outcome.dropped_target:
            dropped = "its planned target %s failed the migration: the scheduler chose" % outcome.dropped_target
            item.note = "; ".join(filter(None, (item.note, dropped)))
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
