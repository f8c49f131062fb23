# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The maintenance planner: batches of hosts and a target for every server to move.

Pure computation over a CloudModel (no I/O). For every batch it guarantees:

* no target host lacks vCPU, RAM or disk (capacity = (total - reserved) * allocation_ratio);
* no target gets more members of a group than the group allows per host
  (one for anti-affinity, ``max_instances_per_host`` from the group's constraints);
* within one wave of moves no instance group has more than ``max_impacted_members``
  members impacted (members left on a batch host count for every wave of the batch);
* at most ``max_unavailable`` hosts of an availability zone / aggregate are down at once
  (hosts already down count);
* targets are never a host of the same batch, nor a disabled or down host.

Batches are filled greedily in a fixed host order (empty hosts first, then the
hosts with the fewest servers), as large as the rules and ``max_parallel_hosts``
allow. Targets are searched first-fit in preference tiers (hosts already
maintained, hosts outside the maintenance, hosts of later batches); each tier
keeps a cursor past the hosts that are full, so planning stays near-linear in
hosts + servers.

It reads a CloudModel and PlanSettings (planning/model.py) and returns a Plan
(planning/plan.py); plan_maintenance plans every host, plan_batch re-plans one batch.
"""

from __future__ import annotations

import functools
import gc
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.drain import (
    FAIL,
    POLICY_CHOICES,
    SKIP,
    policy_key,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import COLD
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import (
    HARD_AFFINITY,
    HARD_ANTI_AFFINITY,
    CloudModel,
    GroupRule,
    PlanSettings,
    ServerModel,
    label_of,
    resolve_limit,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.plan import Batch, Blocker, Move, Plan
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import LIVE_MIGRATE, MIGRATE, OWN_ACTION

# Host states while planning.
PENDING = "pending"      # to maintain, not yet in a batch
IN_BATCH = "in_batch"    # in the batch being formed
DONE = "done"            # maintained (before this plan or by an earlier batch)
OUTSIDE = "outside"      # not part of the maintenance

# Tiers of targets, most preferred first.
TIER_MAINTAINED, TIER_OUTSIDE, TIER_LATER = 0, 1, 2

# While a batch already has hosts, stop trying more after this many hosts that
# cannot join it: each try costs a placement of all its servers.
FAILED_TRIES_PER_BATCH = 16


def group_host_limit(server: ServerModel, rule: Optional[GroupRule]) -> Optional[int]:
    """How many members of the server's group one host may hold (None: no limit)."""
    if server.group_id is None:
        return None
    return host_limit(server.group_policy, rule)


def host_limit(policy: Optional[str], rule: Optional[GroupRule]) -> Optional[int]:
    """How many members of a group with this Nova policy (None: a Fenix group) and these constraints one host may hold."""
    if policy == HARD_ANTI_AFFINITY:
        return 1  # Nova's own filter refuses a second member
    if rule is not None and rule.anti_affinity_group:
        return rule.max_instances_per_host or 1
    if rule is not None:
        return rule.max_instances_per_host
    return None


def move_order(server: ServerModel, limits: Dict[Optional[str], Optional[int]]) -> tuple:
    """Most constrained first: servers of groups limited per host, then the largest flavors."""
    unlimited = limits.get(server.group_id) is None and limits.get(server.fenix_group_id) is None
    return (unlimited, -server.vcpus, -server.ram_mb, -server.disk_gb, server.name or "", server.id)


# ---------------------------------------------------------------------------
# Planning state
# ---------------------------------------------------------------------------

@dataclass
class _Attempt:
    """The tentative result of emptying one host."""

    host: str
    moves: List[Move] = field(default_factory=list)
    skipped: List[ServerModel] = field(default_factory=list)
    problems: List[Blocker] = field(default_factory=list)
    short: List[int] = field(default_factory=lambda: [0, 0, 0])
    short_servers: int = 0


class _Tier:
    """Hosts of one preference tier, in search order, with a cursor past the full ones."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names: List[str] = list(names)
        self.position: Dict[str, int] = {name: index for index, name in enumerate(self.names)}
        self.cursor = 0

    def append(self, name: str) -> None:
        self.position[name] = len(self.names)
        self.names.append(name)

    def reopen(self, name: str) -> None:
        position = self.position.get(name)
        if position is not None and position < self.cursor:
            self.cursor = position


class _State:
    def __init__(self, model: CloudModel, targets_later: Sequence[str], maintained: Iterable[str],
                 to_maintain: Iterable[str]) -> None:
        self.model = model
        self.hosts = model.hosts
        self.free: Dict[str, List[int]] = {name: host.free() for name, host in model.hosts.items()}
        to_maintain = set(to_maintain)
        maintained = set(maintained) & set(model.hosts)
        self.status: Dict[str, str] = {}
        for name in model.hosts:
            if name in maintained:
                self.status[name] = DONE
            elif name in to_maintain:
                self.status[name] = PENDING
            else:
                self.status[name] = OUTSIDE
        self.on_host: Dict[str, List[ServerModel]] = defaultdict(list)
        # A group's limit per host comes from its first member (its group policy).
        self.limits: Dict[Optional[str], Optional[int]] = {}
        self.members: Dict[str, Counter] = defaultdict(Counter)
        for server in model.servers:
            if server.host in model.hosts:
                self.on_host[server.host].append(server)
            group_id = server.group_id
            if group_id is None:
                continue
            if group_id not in self.limits:
                self.limits[group_id] = group_host_limit(server, model.groups.get(group_id))
            if self.limits[group_id] is not None:
                self.members[group_id][server.host] += 1
            fenix_group_id = server.fenix_group_id
            if fenix_group_id is not None:
                if fenix_group_id not in self.limits:
                    self.limits[fenix_group_id] = host_limit(None, model.groups.get(fenix_group_id))
                if self.limits[fenix_group_id] is not None:
                    self.members[fenix_group_id][server.host] += 1
        movable_statuses = {status for status in {server.status for server in model.servers}
                            if policy_key(status) != "other"}
        movable = [server for server in model.servers if server.status in movable_statuses] or model.servers
        self.smallest = [min((s.vcpus for s in movable), default=0), min((s.ram_mb for s in movable), default=0),
                         min((s.disk_gb for s in movable), default=0)]

        def usable(name: str) -> bool:
            host = model.hosts[name]
            return host.enabled and host.up

        self.tiers = (
            _Tier(sorted(name for name in maintained if usable(name))),
            _Tier(sorted(name for name, status in self.status.items() if status == OUTSIDE and usable(name))),
            _Tier(name for name in targets_later if usable(name)),
        )
        self.tier_of: Dict[str, int] = {}
        for index, tier in enumerate(self.tiers):
            for name in tier.names:
                self.tier_of[name] = index
        # Tentative moves into a host during the batch being formed.
        self.incoming: Counter = Counter()

    # --- targets -----------------------------------------------------------
    # The loops below run once per server to move: they read attributes and
    # lists directly, as function calls there cost a good part of the time.
    def find_target(self, server: ServerModel, source: str) -> Tuple[Optional[str], str]:
        """The first host that takes the server, by tier; else (None, why)."""
        vcpus, ram_mb, disk_gb = server.vcpus, server.ram_mb, server.disk_gb
        small_vcpus, small_ram_mb, small_disk_gb = self.smallest
        limit = self.limits.get(server.group_id)
        counts = self.members.get(server.group_id) if limit is not None else None
        fenix_limit = self.limits.get(server.fenix_group_id) if server.fenix_group_id is not None else None
        fenix_counts = self.members.get(server.fenix_group_id) if fenix_limit is not None else None
        status, free = self.status, self.free
        blocked_by_group = False
        for tier_index, tier in enumerate(self.tiers):
            names, later = tier.names, tier_index == TIER_LATER
            index, end = tier.cursor, len(names)
            # Move the cursor past hosts that no server fits into any more, or that
            # left this tier for good (a later-batch host that got maintained).
            while index < end:
                name = names[index]
                room = free[name]
                if (not (later and status[name] in (DONE, IN_BATCH))
                        and room[0] >= small_vcpus and room[1] >= small_ram_mb and room[2] >= small_disk_gb):
                    break
                index += 1
            tier.cursor = index
            for position in range(index, end):
                name = names[position]
                host_status = status[name]
                if host_status == IN_BATCH or name == source or (later and host_status != PENDING):
                    continue
                room = free[name]
                if room[0] < vcpus or room[1] < ram_mb or room[2] < disk_gb:
                    continue
                if counts is not None and counts.get(name, 0) >= limit:
                    blocked_by_group = True
                    continue
                if fenix_counts is not None and fenix_counts.get(name, 0) >= fenix_limit:
                    blocked_by_group = True
                    continue
                return name, ""
        if blocked_by_group:
            return None, "group"
        return None, "capacity"

    def place(self, server: ServerModel, target: str) -> None:
        room = self.free[target]
        room[0] -= server.vcpus
        room[1] -= server.ram_mb
        room[2] -= server.disk_gb
        self.count_member(server, target, 1)
        self.incoming[target] += 1

    def unplace(self, server: ServerModel, target: str) -> None:
        room = self.free[target]
        room[0] += server.vcpus
        room[1] += server.ram_mb
        room[2] += server.disk_gb
        self.count_member(server, target, -1)
        self.incoming[target] -= 1
        tier = self.tier_of.get(target)
        if tier is not None:
            self.tiers[tier].reopen(target)

    def count_member(self, server: ServerModel, host: str, delta: int) -> None:
        """The server joins (1) or leaves (-1) ``host`` in each of its groups limited per host."""
        if self.limits.get(server.group_id) is not None:
            self.members[server.group_id][host] += delta
        if server.fenix_group_id is not None and self.limits.get(server.fenix_group_id) is not None:
            self.members[server.fenix_group_id][host] += delta

    # --- one host ----------------------------------------------------------
    def attempt(self, name: str, settings: PlanSettings) -> _Attempt:
        """Place every server of the host, tentatively (undo() takes the moves back)."""
        result = _Attempt(host=name)
        host = self.hosts[name]
        actions = {key: settings.policy(key) for key in POLICY_CHOICES}
        servers = sorted(self.on_host.get(name, ()), key=functools.partial(move_order, limits=self.limits))
        for server in servers:
            kind, reason = self.kind_of(server, actions, settings.cold_migration_seconds)
            if kind == SKIP:
                result.skipped.append(server)
                continue
            if reason is None and not host.up and kind is not None:
                reason = "its host %s is down (nova-compute not up), so Nova cannot migrate it" % name
            if reason is not None:
                result.problems.append(Blocker(server.id, server.name, server.project_id, name, reason))
                continue
            if kind == OWN_ACTION:  # its project moves or removes it: no target to plan, none to hold
                result.moves.append(Move(server.id, server.project_id, server.name, name, None, kind,
                                         server.group_id, fenix_group_id=server.fenix_group_id))
                continue
            target, why = self.find_target(server, name)
            if target is None:
                result.problems.append(Blocker(server.id, server.name, server.project_id, name,
                                               self.no_target_reason(server, why)))
                if why == "capacity":
                    for index, amount in enumerate(server.need):
                        result.short[index] += amount
                    result.short_servers += 1
                continue
            self.place(server, target)
            result.moves.append(Move(server.id, server.project_id, server.name, name, target, kind,
                                     server.group_id, moves_again=self.status[target] == PENDING,
                                     fenix_group_id=server.fenix_group_id))
        return result

    def undo(self, attempt: _Attempt) -> None:
        by_id = {server.id: server for server in self.on_host.get(attempt.host, ())}
        for move in attempt.moves:
            if move.to_host is not None:
                self.unplace(by_id[move.server_id], move.to_host)
        attempt.moves = []

    def kind_of(self, server: ServerModel, actions: Dict[str, str],
                cold_seconds: float) -> Tuple[Optional[str], Optional[str]]:
        """(LIVE_MIGRATE | MIGRATE | OWN_ACTION | SKIP, None), or (None, why the server cannot move).

        ``actions``: server_policy's action per policy key (settings.policy of each); ``cold_seconds``: the
        planned interruption of a cold migration, which an active instance's max_interruption_time may forbid.
        """
        key = policy_key(server.status)
        action = actions[key]
        if action == SKIP:
            return SKIP, None
        if action == FAIL:
            choices = [choice for choice in POLICY_CHOICES[key] if choice != FAIL]
            return None, "its status is %s and server_policy.%s is fail; set server_policy.%s to %s to go on" % (
                server.status, key, key, " or ".join(choices))
        if server.group_id is not None and server.group_policy == HARD_AFFINITY:
            return None, ("it is in the affinity server group %s, whose members must share one host, so Nova"
                          " cannot move it alone; ask its project to scale it in or rebuild the group"
                          % self.group_label(server.group_id))
        # The project's migration_type decides between the admin's moves (or leaves the move to the project);
        # server_policy decides only for instances that set none.
        rule = self.model.instances.get(server.id)
        own = rule.action if rule is not None else None
        if own == OWN_ACTION:
            return OWN_ACTION, None
        if key == "shutoff":
            return MIGRATE, None  # stopped, it has no service a cold move could interrupt
        if key != "active":
            return LIVE_MIGRATE, None
        too_long = rule is not None and rule.interrupted_too_long_by(cold_seconds)
        if own == MIGRATE:
            if too_long:
                return None, ("its migration_type is MIGRATE and its max_interruption_time (%gs) is shorter than a"
                              " cold migration (%gs planned); its project should set migration_type LIVE_MIGRATE"
                              " or a longer max_interruption_time" % (rule.max_interruption_time, cold_seconds))
            return MIGRATE, None
        if own is None and action == COLD and not too_long:
            return MIGRATE, None
        return LIVE_MIGRATE, None

    def group_label(self, group_id: str) -> str:
        return label_of(self.model.group_names.get(group_id), group_id)

    def no_target_reason(self, server: ServerModel, why: str) -> str:
        if why == "group":
            limited = [group for group in server.groups if self.limits.get(group) is not None]
            return "no enabled host outside its batch has room for it without %s" % " or ".join(
                "%s of group %s on it" % ("another member" if self.limits[group] == 1
                                          else "more than %d members" % self.limits[group], self.group_label(group))
                for group in limited)
        return ("no enabled host outside its batch has room for its flavor (%d vCPU, %d MB RAM, %d GB disk);"
                " capacity is short: scale in or add hosts" % server.need)

    # --- commit ------------------------------------------------------------
    def commit(self, batch_hosts: List[str], attempts: Dict[str, _Attempt]) -> None:
        for name in batch_hosts:
            attempt = attempts[name]
            moved = {move.server_id: move for move in attempt.moves}
            staying = []
            room = self.free[name]
            for server in self.on_host.get(name, ()):
                move = moved.get(server.id)
                if move is None:
                    staying.append(server)
                    continue
                room[0] += server.vcpus
                room[1] += server.ram_mb
                room[2] += server.disk_gb
                self.count_member(server, name, -1)
                if move.to_host is not None:  # an OWN_ACTION instance leaves the plan: its project places it
                    self.on_host[move.to_host].append(server)
            self.on_host[name] = staying
            self.status[name] = DONE
            if self.hosts[name].enabled and self.hosts[name].up:
                # Emptied and maintained, the host is the best target from now on (a host someone
                # else disabled stays disabled, so it is not one).
                if self.tier_of.get(name) != TIER_MAINTAINED:
                    self.tiers[TIER_MAINTAINED].append(name)
                    self.tier_of[name] = TIER_MAINTAINED
        self.incoming.clear()


# ---------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------

class _Availability:
    """Hosts down per availability zone and aggregate, against max_unavailable."""

    def __init__(self, model: CloudModel, settings: PlanSettings) -> None:
        self.hosts = model.hosts
        zone_sizes, aggregate_sizes = Counter(), Counter()
        self.down_zone, self.down_aggregate = Counter(), Counter()
        for host in model.hosts.values():
            zone_sizes[host.availability_zone] += 1
            for aggregate in host.aggregates:
                aggregate_sizes[aggregate] += 1
            if not host.up:
                self.down_zone[host.availability_zone] += 1
                for aggregate in host.aggregates:
                    self.down_aggregate[aggregate] += 1
        self.zone_limit = {zone: resolve_limit(settings.max_unavailable_per_zone, size) for zone, size in zone_sizes.items()}
        self.aggregate_limit = {
            aggregate: resolve_limit(settings.max_unavailable_per_aggregate, size) for aggregate, size in aggregate_sizes.items()
        }
        self.reset()

    def reset(self) -> None:
        self.zone = Counter(self.down_zone)
        self.aggregate = Counter(self.down_aggregate)

    def refusal(self, name: str) -> Optional[str]:
        """Why the host may not go down with the batch so far (None: it may)."""
        host = self.hosts[name]
        if not host.up:
            return None  # down already, counted
        limit = self.zone_limit.get(host.availability_zone)
        if limit is not None and self.zone[host.availability_zone] + 1 > limit:
            return "availability zone %s would have more than %d hosts down (max_unavailable)" % (
                host.availability_zone, limit)
        for aggregate in host.aggregates:
            limit = self.aggregate_limit.get(aggregate)
            if limit is not None and self.aggregate[aggregate] + 1 > limit:
                return "aggregate %s would have more than %d hosts down (max_unavailable)" % (aggregate, limit)
        return None

    def add(self, name: str) -> None:
        host = self.hosts[name]
        if host.up:
            self.zone[host.availability_zone] += 1
            for aggregate in host.aggregates:
                self.aggregate[aggregate] += 1


def _group_members(attempts: Iterable[_Attempt]) -> Tuple[Counter, Counter]:
    """Members of each group staying on the attempts' hosts (server_policy skip), and moving off them."""
    staying, moving = Counter(), Counter()
    for attempt in attempts:
        for server in attempt.skipped:
            staying.update(server.groups)
        for move in attempt.moves:
            moving.update(move.groups)
    return staying, moving


def _group_refusal(group_id: str, staying: int, moving: int, rule: Optional[GroupRule]) -> Optional[str]:
    """Why ``staying`` members left and ``moving`` members moved impact too many of the group at once.

    A member left on a batch host is impacted during the whole batch, so each
    wave may move only max_impacted_members minus those left behind.
    """
    if not staying or rule is None or rule.max_impacted_members is None:
        return None
    if staying > rule.max_impacted_members or (moving and staying >= rule.max_impacted_members):
        return "group %s would have %d members staying on hosts under maintenance, max_impacted_members is %d" % (
            group_id, staying, rule.max_impacted_members)
    return None


def _impact_refusal(attempts: Iterable[_Attempt], groups: Dict[str, GroupRule]) -> Optional[str]:
    """Why these hosts together would impact too many members of a group at once (the first group left on them)."""
    staying, moving = _group_members(attempts)
    for group_id, count in staying.items():
        refusal = _group_refusal(group_id, count, moving[group_id], groups.get(group_id))
        if refusal is not None:
            return refusal
    return None


class _BatchImpact:
    """The members of each group a batch impacts, kept as hosts join it.

    ``admit(attempt)`` answers as _impact_refusal would for the batch's hosts
    plus the attempt's, at the cost of the attempt's servers only: the batch so
    far passed the check and the counts only grow, so only the attempt's groups
    can fail it, and the one reported is the first left on a host, in batch
    order. An attempt that passes joins the batch's counts.
    """

    def __init__(self, groups: Dict[str, GroupRule]) -> None:
        self.groups = groups
        self.staying: Counter = Counter()
        self.moving: Counter = Counter()
        # Each group left on a batch host, by the order it was first left.
        self.rank: Dict[str, int] = {}

    def admit(self, attempt: _Attempt) -> Optional[str]:
        """Why the attempt's host may not join the batch; None: it joins the counts."""
        staying, moving = _group_members([attempt])
        refusal = self._first_refusal(staying, moving)
        if refusal is None:
            for group_id in staying:
                self.rank.setdefault(group_id, len(self.rank))
            self.staying.update(staying)
            self.moving.update(moving)
        return refusal

    def _first_refusal(self, staying: Counter, moving: Counter) -> Optional[str]:
        touched = list(staying) + [group_id for group_id in moving if group_id not in staying]
        first: Optional[Tuple[int, str]] = None
        for group_id in touched:
            refusal = _group_refusal(group_id, self.staying[group_id] + staying[group_id],
                                     self.moving[group_id] + moving[group_id], self.groups.get(group_id))
            if refusal is None:
                continue
            # A group new to the batch ranks after every group already in it, in the attempt's order.
            rank = self.rank.get(group_id, len(self.rank) + touched.index(group_id))
            if first is None or rank < first[0]:
                first = (rank, refusal)
        return first[1] if first is not None else None


def split_waves(moves: List[Move], staying: Counter, groups: Dict[str, GroupRule]) -> List[List[Move]]:
    """Waves of moves such that no group has more than max_impacted_members impacted in one wave.

    A move goes into the first wave where each of its groups still has room
    (a server in a Nova server group and a Fenix instance group counts in both).
    """
    waves: List[List[Move]] = []
    in_wave: Dict[str, List[int]] = {}  # group -> members moving in each wave
    for move in moves:
        limited = []
        for group_id in move.groups:
            rule = groups.get(group_id)
            if rule is not None and rule.max_impacted_members is not None:
                limited.append((group_id, max(1, rule.max_impacted_members - staying[group_id])))
        wave = 0
        while any(len(in_wave.get(group_id, ())) > wave and in_wave[group_id][wave] >= per_wave
                  for group_id, per_wave in limited):
            wave += 1
        for group_id, _per_wave in limited:
            counts = in_wave.setdefault(group_id, [])
            while len(counts) <= wave:
                counts.append(0)
            counts[wave] += 1
        while len(waves) <= wave:
            waves.append([])
        waves[wave].append(move)
    return waves


def estimate_batch(batch: Batch, model: CloudModel, settings: PlanSettings) -> float:
    """Seconds: notice (largest lead_time), waves one after the other, recovery between waves, host work."""
    moves = batch.moves
    lead = max((model.instances[move.server_id].lead_time for move in moves if move.server_id in model.instances),
               default=0.0)
    total = lead
    per_host = max(1, settings.migrations_per_host)
    for index, wave in enumerate(batch.waves):
        by_source: Dict[str, Counter] = defaultdict(Counter)
        for move in wave:
            by_source[move.from_host][move.kind] += 1
        total += max(
            # A project's own action is counted as long as a live migration.
            (math.ceil((kinds[LIVE_MIGRATE] + kinds[OWN_ACTION]) / per_host) * settings.live_migration_seconds
             + math.ceil(kinds[MIGRATE] / per_host) * settings.cold_migration_seconds
             for kinds in by_source.values()),
            default=0.0,
        )
        if index + 1 < len(batch.waves):
            later = {group_id for move in batch.waves[index + 1] for group_id in move.groups}
            total += max((model.groups[group_id].recovery_time for move in wave for group_id in move.groups
                          if group_id in later and group_id in model.groups), default=0.0)
    return total + settings.host_seconds


def host_order(model: CloudModel, hosts: Iterable[str]) -> List[str]:
    """Empty hosts first, then the fewest servers, then the most free vCPU (Fenix's choice of host to empty)."""
    counts = Counter(server.host for server in model.servers)
    return sorted(hosts, key=lambda name: (counts[name], -model.hosts[name].free()[0], name))


def _finish_batch(state: _State, hosts: List[str], attempts: Dict[str, _Attempt], plan: Plan,
                  settings: PlanSettings) -> Batch:
    staying = Counter()
    skipped = []
    moves: List[Move] = []
    for name in hosts:
        attempt = attempts[name]
        moves.extend(attempt.moves)
        for server in attempt.skipped:
            staying.update(server.groups)
            skipped.append({"server_id": server.id, "name": server.name, "project_id": server.project_id,
                            "host": name, "status": server.status,
                            "reason": "server_policy.%s is skip" % policy_key(server.status)})
        for server in state.on_host.get(name, ()):
            # A dict keeps the order and drops a server seen twice (moved onto a later batch's host).
            ids = plan.projects.get(server.project_id)
            if ids is None:
                ids = plan.projects[server.project_id] = {}
            ids[server.id] = None
    batch = Batch(hosts=list(hosts), waves=split_waves(moves, staying, state.model.groups), skipped=skipped)
    batch.estimated_seconds = estimate_batch(batch, state.model, settings)
    plan.double_moves += sum(1 for move in moves if move.moves_again)
    state.commit(hosts, attempts)
    plan.batches.append(batch)
    plan.estimated_seconds += batch.estimated_seconds
    return batch


def _record_failures(plan: Plan, failures: Dict[str, Tuple[str, _Attempt]]) -> None:
    short, servers, short_hosts = [0, 0, 0], 0, []
    for name in sorted(failures):
        reason, attempt = failures[name]
        plan.unplanned_hosts[name] = reason
        if attempt is not None:
            plan.blockers.extend(attempt.problems)
            if attempt.short_servers:
                short_hosts.append(name)
                short = [max(a, b) for a, b in zip(short, attempt.short)]
                servers = max(servers, attempt.short_servers)
    if short_hosts:
        plan.scale_in = {"vcpus": short[0], "memory_mb": short[1], "disk_gb": short[2],
                         "servers": servers, "hosts": short_hosts}


def _describe_failure(attempt: _Attempt) -> str:
    return "%d of its servers cannot move: %s" % (len(attempt.problems), attempt.problems[0].message)


_Planner = TypeVar("_Planner", bound=Callable[..., Plan])


def _without_cyclic_gc(planner: _Planner) -> _Planner:
    """Plan with the cyclic garbage collector paused.

    Planning allocates many small objects and frees them by reference count;
    the collector's passes over the whole model (a fifth of the time on a large
    cloud) find nothing to free. It is enabled again only if it was enabled.
    """
    @functools.wraps(planner)
    def paused(*args, **kwargs) -> Plan:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return planner(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()
    return paused  # type: ignore[return-value]


@_without_cyclic_gc
def plan_maintenance(model: CloudModel, hosts: Iterable[str], settings: PlanSettings,
                     maintained: Iterable[str] = ()) -> Plan:
    """Batches for every host of ``hosts`` not in ``maintained``, in order, with a target per server."""
    maintained = set(maintained)
    unknown = sorted(set(hosts) - set(model.hosts))
    if unknown:
        raise ValueError("hosts: %s not in the cloud model; known hosts: %s"
                         % (", ".join(unknown), ", ".join(sorted(model.hosts)) or "none"))
    if settings.max_parallel_hosts < 1:
        raise ValueError("max_parallel_hosts: %d; give at least 1" % settings.max_parallel_hosts)
    to_maintain = [name for name in set(hosts) if name not in maintained]
    order = host_order(model, to_maintain)
    # Targets among hosts still to maintain: the last in the order first, as they go last.
    state = _State(model, list(reversed(order)), maintained, to_maintain)
    availability = _Availability(model, settings)
    plan = Plan()
    any_empty = any(not state.on_host.get(name) for name in order)
    failures: Dict[str, Tuple[str, Optional[_Attempt]]] = {}
    pending = list(order)
    while pending:
        availability.reset()
        impact = _BatchImpact(model.groups)
        batch_hosts: List[str] = []
        attempts: Dict[str, _Attempt] = {}
        failures = {}
        scanned = len(pending)
        for index, name in enumerate(pending):
            if len(batch_hosts) >= settings.max_parallel_hosts or (
                    batch_hosts and len(failures) >= FAILED_TRIES_PER_BATCH):
                scanned = index
                break
            if state.incoming[name]:
                continue  # already a target of this batch
            refusal = availability.refusal(name)
            if refusal is not None:
                failures[name] = (refusal, None)
                continue
            state.status[name] = IN_BATCH
            attempt = state.attempt(name, settings)
            refusal = None if attempt.problems else impact.admit(attempt)
            if attempt.problems or refusal:
                state.undo(attempt)
                state.status[name] = PENDING
                tier = state.tier_of.get(name)
                if tier is not None:
                    state.tiers[tier].reopen(name)
                failures[name] = (refusal or _describe_failure(attempt), attempt if attempt.problems else None)
                continue
            attempts[name] = attempt
            availability.add(name)
            batch_hosts.append(name)
        if not batch_hosts:
            # Nothing can go now, and nothing will change: every host left fails.
            rest = {name: failures.get(name, ("not tried", None)) for name in pending}
            _record_failures(plan, rest)
            break
        _finish_batch(state, batch_hosts, attempts, plan, settings)
        # The batch's hosts are all in the part scanned: compacting only that keeps each batch
        # in the time of its own scan, not of every host still pending.
        done = set(batch_hosts)
        pending[:scanned] = [name for name in pending[:scanned] if name not in done]
    if not any_empty and plan.batches:
        # PREPARE_MAINTENANCE: no host to maintain is empty, so the first one planned is emptied first.
        plan.prepare_host = plan.batches[0].hosts[0]
    return _with_project_lists(plan)


@_without_cyclic_gc
def plan_batch(model: CloudModel, hosts: Iterable[str], settings: PlanSettings,
               maintained: Iterable[str] = (), pending: Iterable[str] = ()) -> Plan:
    """Exactly ``hosts`` as one batch, with fresh targets against the current model.

    ``pending`` names the other hosts still to maintain (targets of last resort).
    The plan has blockers (and no batch) when the rules cannot be met.
    """
    hosts = sorted(set(hosts))
    unknown = sorted(set(hosts) - set(model.hosts))
    if unknown:
        raise ValueError("batch: %s not in the cloud model; known hosts: %s"
                         % (", ".join(unknown), ", ".join(sorted(model.hosts)) or "none"))
    later = list(host_order(model, set(pending) - set(hosts) - set(maintained)))
    state = _State(model, list(reversed(later)), set(maintained) - set(hosts), list(hosts) + later)
    availability = _Availability(model, settings)
    plan = Plan()
    for name in hosts:
        state.status[name] = IN_BATCH
    attempts: Dict[str, _Attempt] = {}
    failures: Dict[str, Tuple[str, Optional[_Attempt]]] = {}
    for name in hosts:
        refusal = availability.refusal(name)
        if refusal is not None:
            failures[name] = (refusal, None)
        availability.add(name)
        attempt = state.attempt(name, settings)
        attempts[name] = attempt
        if attempt.problems:
            failures[name] = (_describe_failure(attempt), attempt)
    if not failures:
        refusal = _impact_refusal(attempts.values(), model.groups)
        if refusal:
            failures = {name: (refusal, None) for name in hosts}
    if failures:
        _record_failures(plan, failures)
        return _with_project_lists(plan)
    _finish_batch(state, hosts, attempts, plan, settings)
    return _with_project_lists(plan)


def _with_project_lists(plan: Plan) -> Plan:
    plan.projects = {project_id: list(ids) for project_id, ids in plan.projects.items()}
    return plan
