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
* targets are never a host of the same batch, nor a disabled or down host;
* no target passes ``max_fill`` of any resource while another host has the room
  under it (past it only when none has, up to the capacity; ``Plan.over_fill``
  names those servers and hosts: the limit gives way rather than block the
  maintenance, as capacity does).

Batches are filled greedily in a fixed host order (empty hosts first, then the
hosts with the fewest servers; when nothing is maintained yet, the first batch
takes hosts without members of a group limited by ``max_impacted_members``
first, as its servers move twice), as large as the rules and ``max_parallel_hosts``
allow. With ``ramp_up``, when no host is maintained yet and none to maintain is
empty, batch k (from 0) takes at most 2**k hosts: the first batch's servers,
which can only go to hosts maintained later, are few, and the later batches
move onto the hosts already maintained. Each server goes to the least filled host that takes it (spread, not
first-fit): a host's fill is the fraction of its capacity it uses in its
fullest resource. Before the fill come two preferences: under ``max_fill``
before past it, then the tiers (hosts already maintained, hosts outside the
maintenance, hosts of later batches, the hosts next in line for the batch
being formed): a maintained host at 60 % is preferred to an empty host that
will be maintained later, whose servers would move twice. Each tier is a heap
of its hosts by fill, so a target costs O(log hosts), and a search that meets
a host without the room stops as soon as no host further up can have it.
``candidates`` (a per-server filter, every host by default) narrows the hosts
a server may go to.

A wave's estimate is the time its busiest host is busy, as a source
(``migrations_per_host`` at once) or as a target (``incoming_per_host``).

It reads a CloudModel and PlanSettings (planning/model.py) and returns a Plan
(planning/plan.py); plan_maintenance plans every host, plan_batch re-plans one batch.
"""

from __future__ import annotations

import functools
import gc
import math
from collections import Counter, defaultdict
from heapq import heappop, heappush, heapreplace
from operator import attrgetter, itemgetter
from typing import AbstractSet, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple, TypeVar, Union

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
    RESOURCES,
    UNLIMITED,
    VCPU,
    CloudModel,
    GroupRule,
    PlanSettings,
    ServerModel,
    label_of,
    resolve_limit,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.plan import Batch, Blocker, Estimate, Move, Plan
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import LIVE_MIGRATE, MIGRATE, OWN_ACTION

# Host states while planning.
PENDING = "pending"      # to maintain, not yet in a batch
IN_BATCH = "in_batch"    # in the batch being formed
DONE = "done"            # maintained (before this plan or by an earlier batch)
OUTSIDE = "outside"      # not part of the maintenance

# Tiers of targets, most preferred first.
# Hosts of later batches are targets of last resort (a server put there moves again), and the hosts next in
# line for the batch being formed come after them (a host a server goes to cannot join the batch).
TIER_MAINTAINED, TIER_OUTSIDE, TIER_LATER, TIER_NEXT = 0, 1, 2, 3

# Which hosts may take a server besides the planner's own rules (a Placement query, say): a set of host
# names, or None for every host. plan_maintenance and plan_batch take one; by default every host may.
CandidateFilter = Callable[[ServerModel], Optional[AbstractSet[str]]]

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
    """Most constrained first: servers of groups limited per host, then the largest flavors (a sort key)."""
    unlimited = limits.get(server.group_id) is None and limits.get(server.fenix_group_id) is None
    return (unlimited, -server.vcpus, -server.ram_mb, -server.disk_gb)


# ---------------------------------------------------------------------------
# Planning state
# ---------------------------------------------------------------------------

# A tier's heap entry is one int, the host's fill in steps of 1/FILL_STEPS above the host's index (ties go
# by index): ints compare faster than tuples, and a heap is searched once per server.
FILL_STEPS = 1 << 20
INDEX_BITS = 24
INDEX_MASK = (1 << INDEX_BITS) - 1
# A resource class no usable host has an inventory of never bounds a search.
NO_SHARE = 1e18
# claim_target's answer for a target past max_fill (no host had the room under it).
OVER_FILL = "over_fill"

# Attribute readers that run in C, for the passes over every server or move.
_FLAVOR = attrgetter("vcpus", "ram_mb", "disk_gb")
_SOURCE_AND_KIND, _TARGET_AND_KIND = attrgetter("from_host", "kind"), attrgetter("to_host", "kind")
_SERVER_ID = attrgetter("server_id")
_SECOND = itemgetter(1)


class ServersRead(NamedTuple):
    """The model's servers read once for the whole plan: the host order, the first batch and the state use them."""

    on_host: Dict[str, List[ServerModel]]  # the servers on each host of the model, in the model's order
    grouped: List[ServerModel]  # those in a group (a server in a Fenix instance group is in a group_id too)
    statuses: Set[str]  # the statuses of every server of the model
    impact_limited_hosts: Set[str]  # the hosts holding a member of a group limited by max_impacted_members


def read_servers(model: CloudModel) -> ServersRead:
    # One pass over the servers: on a large cloud they do not fit the processor's caches, and every further
    # pass reads them from memory again.
    on_host: Dict[str, List[ServerModel]] = defaultdict(list)
    grouped: List[ServerModel] = []
    statuses: Set[str] = set()
    impact_limited = {group_id for group_id, rule in model.groups.items() if rule.max_impacted_members}
    impact_limited_hosts: Set[str] = set()
    hosts = model.hosts
    for server in model.servers:
        host = server.host
        if host in hosts:
            on_host[host].append(server)
        if server.group_id is not None:
            grouped.append(server)
            if server.group_id in impact_limited or server.fenix_group_id in impact_limited:
                impact_limited_hosts.add(host)
        statuses.add(server.status)
    return ServersRead(on_host, grouped, statuses, impact_limited_hosts)


class _Attempt:
    """The tentative result of emptying one host (a class with slots: one is made per host tried)."""

    __slots__ = ("host", "moves", "skipped", "problems", "short", "short_servers", "grouped", "again", "over_fill",
                 "moved", "unmodelled")

    def __init__(self, host: str) -> None:
        self.host = host
        self.moves: List[Move] = []
        self.skipped: List[ServerModel] = []
        self.problems: List[Blocker] = []
        self.short = [0, 0, 0]
        self.short_servers = 0
        # The moves of servers in a group, in the order of moves (what counts for max_impacted_members).
        self.grouped: List[Move] = []
        # (server, target) of each server placed on a host of a later batch (it moves again from there).
        self.again: List[Tuple[ServerModel, str]] = []
        # (server, target) of each server placed past max_fill.
        self.over_fill: List[Tuple[ServerModel, str]] = []
        # The vCPU, RAM and disk of the servers moving off the host.
        self.moved = [0, 0, 0]
        # The servers moved without a named target (ServerModel.unmodelled): the scheduler chooses.
        self.unmodelled: List[ServerModel] = []


class _Tier:
    """Hosts of one preference tier in a heap, the least filled first (ties: by host index, _State.names).

    ``entry[index]`` is the valid heap entry of the host of that index, or None when
    the host is not in the heap (_State.push puts it there). A host whose fill
    changed, that joined a batch or changed tier leaves its old entry behind,
    dropped when it comes up.
    """

    def __init__(self, rank: int, hosts: int) -> None:
        self.rank = rank  # TIER_MAINTAINED, TIER_OUTSIDE, TIER_LATER or TIER_NEXT
        self.heap: List[int] = []
        self.entry: List[Optional[int]] = [None] * hosts


class _State:
    def __init__(self, model: CloudModel, settings: PlanSettings, targets_later: Sequence[str],
                 maintained: Iterable[str], to_maintain: Iterable[str], servers: ServersRead,
                 candidates: Optional[CandidateFilter] = None) -> None:
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
        self._read_servers(model, servers)
        self.actions = {key: settings.policy(key) for key in POLICY_CHOICES}
        self.cold_seconds = settings.cold_migration_seconds
        # The kind of a server that no instance rule or affinity group concerns depends on its status only:
        # per status, when it is a move to a target (LIVE_MIGRATE or MIGRATE).
        self.plain_kinds: Dict[str, str] = {}
        for status in self.statuses:
            kind, reason = self.kind_of(ServerModel("", "", "", "", status), self.actions, self.cold_seconds)
            if reason is None and kind in (LIVE_MIGRATE, MIGRATE):
                self.plain_kinds[status] = kind
        self.candidates = candidates
        self.unfiltered = candidates is None
        self._measure_hosts(settings.max_fill, targets_later)

        def usable(name: str) -> bool:
            host = model.hosts[name]
            return host.enabled and host.up

        self.tiers = tuple(_Tier(rank, len(self.names)) for rank in (TIER_MAINTAINED, TIER_OUTSIDE, TIER_LATER,
                                                                     TIER_NEXT))
        self.tier_of: Dict[str, int] = {}
        for tier, names in ((TIER_MAINTAINED, [name for name in maintained if usable(name)]),
                            (TIER_OUTSIDE, [name for name, status in self.status.items()
                                            if status == OUTSIDE and usable(name)]),
                            (TIER_LATER, [name for name in targets_later if usable(name)])):
            for name in names:
                self.tier_of[name] = tier
                self.push(name)
        # Moves into each host of a later batch during the batch being formed (it may not join it).
        self.incoming: Counter = Counter()
        # Servers placed past max_fill, and their vCPU, RAM and disk; the hosts they went to.
        self.over_fill = [0, 0, 0, 0]
        self.over_fill_hosts: Dict[str, None] = {}
        # Per project, its servers on the planned hosts before the plan, in the order planned (it is asked).
        self.projects: Dict[str, List[str]] = defaultdict(list)

    def _read_servers(self, model: CloudModel, servers: ServersRead) -> None:
        """The servers on each host, the groups' limits and members per host, the statuses."""
        self.on_host = servers.on_host
        # The servers on each host before the plan: those moved there later are listed in the plan already.
        self.originally = {name: len(listed) for name, listed in self.on_host.items()}
        # A group's limit per host comes from its first member (its group policy). One pass over the grouped
        # servers (see read_servers).
        self.limits: Dict[Optional[str], Optional[int]] = {}
        self.members: Dict[str, Counter] = defaultdict(Counter)
        # The servers of a group limited per host (they move first, as move_order has it), and the hosts they
        # are on (commit adds those they move to).
        self.limited_ids: Set[str] = set()
        self.limited_hosts: Set[str] = set()
        limits, members, groups = self.limits, self.members, model.groups
        for server in servers.grouped:
            host, group_id = server.host, server.group_id
            if group_id in limits:
                limit = limits[group_id]
            else:
                limit = limits[group_id] = group_host_limit(server, groups.get(group_id))
            limited = limit is not None
            if limited:
                members[group_id][host] += 1
            fenix_group_id = server.fenix_group_id
            if fenix_group_id is not None:
                if fenix_group_id in limits:
                    limit = limits[fenix_group_id]
                else:
                    limit = limits[fenix_group_id] = host_limit(None, groups.get(fenix_group_id))
                if limit is not None:
                    members[fenix_group_id][host] += 1
                    limited = True
            if limited:
                self.limited_ids.add(server.id)
                self.limited_hosts.add(host)
        self.statuses = servers.statuses
        self._smallest: Optional[List[int]] = None

    @property
    def smallest(self) -> List[int]:
        """The least vCPU, RAM and disk of a server that may move: a host with less room takes none.

        Read only when a host lacks the room for a server, so computed then."""
        if self._smallest is None:
            servers = self.model.servers
            movable_statuses = {status for status in self.statuses if policy_key(status) != "other"}
            movable = servers
            if movable_statuses != self.statuses:
                movable = [server for server in servers if server.status in movable_statuses] or servers
            flavors = set(map(_FLAVOR, movable))  # a few distinct ones: one pass instead of three
            self._smallest = [min((flavor[index] for flavor in flavors), default=0) for index in range(3)]
        return self._smallest

    def _measure_hosts(self, max_fill: float, targets_later: Sequence[str]) -> None:
        """Per host what its fill and the room kept under max_fill are computed from."""
        if not 0 < max_fill <= 1:
            raise ValueError("max_fill: %r; give a fraction above 0 and at most 1" % (max_fill,))
        self.max_fill = max_fill
        # Under max_fill in every tier first, then up to the capacity (a target found there is past max_fill);
        # no limit at all: one search.
        self.bounds = ((max_fill, ""), (1.0, OVER_FILL)) if max_fill < 1 else ((1.0, ""),)
        # Hosts by index, whose order breaks ties between equally filled hosts: by name, then the hosts of
        # later batches, the last to be maintained first (a server put there moves again, as late as can be,
        # and the hosts next in line stay free to join the batch being formed). Per index their room (the
        # lists of self.free) and their sizing: per resource (vCPU, RAM, disk) the room to leave free to stay
        # under max_fill, then the capacity, then its inverse (0: the host has no inventory of it, no limit).
        # One tuple per host: each placement reads one host's, cold in memory.
        later = set(targets_later)
        self.names: List[str] = sorted(set(self.hosts) - later) + [name for name in targets_later if name in self.hosts]
        self.index: Dict[str, int] = {name: index for index, name in enumerate(self.names)}
        self.rooms: List[List[int]] = [self.free[name] for name in self.names]
        self.sizing: List[Tuple[float, ...]] = []
        # Hosts of one capacity share one sizing (a cloud has few kinds of hosts; one tuple stays in cache).
        sizing_of: Dict[Tuple[int, ...], Tuple[float, ...]] = {}
        usable_capacities = set()
        for name in self.names:
            host = self.hosts[name]
            capacity = tuple(host.capacity.get(rc, UNLIMITED) for rc in RESOURCES)
            sizing = sizing_of.get(capacity)
            if sizing is None:
                limited = [0 < cap < UNLIMITED for cap in capacity]
                inverse = [1.0 / cap if bounded else 0.0 for cap, bounded in zip(capacity, limited)]
                reserve = [cap - max_fill * cap if bounded else 0 for cap, bounded in zip(capacity, limited)]
                sizing = sizing_of[capacity] = tuple(reserve) + capacity + tuple(inverse)
            self.sizing.append(sizing)
            if host.enabled and host.up:
                usable_capacities.add(capacity)
        # 1 / the largest capacity per resource of a usable host, for a server's share of a host
        # (NO_SHARE: no usable host has an inventory of it).
        largest = [max((capacity[index] for capacity in usable_capacities if 0 < capacity[index] < UNLIMITED),
                       default=0) for index in range(3)]
        self.share = [1.0 / most if most else NO_SHARE for most in largest]

    def fill(self, name: str) -> float:
        """The fraction of its capacity the host uses in its fullest resource (vCPU with the allocation ratio)."""
        room, sizing = self.free[name], self.sizing[self.index[name]]
        return max((sizing[3] - room[0]) * sizing[6], (sizing[4] - room[1]) * sizing[7],
                   (sizing[5] - room[2]) * sizing[8])

    def push(self, name: str) -> None:
        """The host into its tier's heap with its fill now (its earlier entry, if any, is left behind)."""
        tier, index = self.tiers[self.tier_of[name]], self.index[name]
        entry = (int(self.fill(name) * FILL_STEPS) << INDEX_BITS) | index
        tier.entry[index] = entry
        heappush(tier.heap, entry)

    # --- hosts joining and leaving the batch being formed --------------------
    def join_batch(self, name: str) -> None:
        """The host goes into the batch being formed: no target for it any more."""
        self.status[name] = IN_BATCH
        tier = self.tier_of.get(name)
        if tier is not None:
            self.tiers[tier].entry[self.index[name]] = None

    def next_in_line(self, name: str) -> None:
        """The host may join the batch being formed: a target only when no host of a later batch has the room."""
        if self.tier_of.get(name) == TIER_LATER:
            self.tiers[TIER_LATER].entry[self.index[name]] = None
            self.tier_of[name] = TIER_NEXT
            self.push(name)

    def leave_batch(self, name: str) -> None:
        """The host could not join the batch: pending again, and a target of its tier again."""
        self.status[name] = PENDING
        if name in self.tier_of:
            self.push(name)

    # --- targets -----------------------------------------------------------
    # The loops below run once per server to move: they read attributes and
    # lists directly, as function calls there cost a good part of the time.
    def claim_target(self, server: ServerModel) -> Tuple[Optional[str], int, str]:
        """Take the room for the server on a host: (host, its tier, "") under max_fill, or OVER_FILL past it.

        (None, -1, why) when no host has the room. The host is the first that has it
        under max_fill in every tier, else up to the capacity: in each of the
        two, the tiers in order, and in a tier the least filled host that has the
        room for the server and for its groups and that ``candidates`` allows.
        The caller counts the server in its groups there.
        """
        vcpus, ram_mb, disk_gb = server.vcpus, server.ram_mb, server.disk_gb
        if self.unfiltered and (server.group_id is None or server.id not in self.limited_ids):
            # The common case first (this runs once per server): the least filled host of the first tier
            # with hosts has the room under the first bound, and no group or filter has a say.
            tiers = self.tiers
            tier = tiers[0] if tiers[0].heap else tiers[1] if tiers[1].heap else tiers[2] if tiers[2].heap else tiers[3]
            heap, entries = tier.heap, tier.entry
            if heap:
                entry = heap[0]
                index = entry & INDEX_MASK
                room = self.rooms[index]
                if entries[index] == entry:
                    bound, tag = self.bounds[0]
                    sizing = self.sizing[index]  # the room to leave under max_fill first
                    if bound < 1:
                        fits = room[0] - vcpus >= sizing[0] and room[1] - ram_mb >= sizing[1] and (
                            room[2] - disk_gb >= sizing[2])
                    else:
                        fits = room[0] >= vcpus and room[1] >= ram_mb and room[2] >= disk_gb
                    if fits:
                        return self._take(heap, entries, index, room, sizing, server), tier.rank, tag
        group_id, fenix_group_id = server.group_id, server.fenix_group_id
        counts = fenix_counts = None
        limit = fenix_limit = 0
        if group_id is not None or fenix_group_id is not None:
            limits = self.limits
            if limits.get(group_id) is not None:
                limit, counts = limits[group_id], self.members[group_id]
            if limits.get(fenix_group_id) is not None:
                fenix_limit, fenix_counts = limits[fenix_group_id], self.members[fenix_group_id]
        allowed = self.candidates(server) if self.candidates is not None else None
        rooms, reserves, names = self.rooms, self.sizing, self.names
        why = "capacity"
        for bound, tag in self.bounds:
            bounded = bound < 1
            # Computed at the first host without the room: from there on, no host has it.
            stop_at = None
            aside: List[Tuple[List[int], int]] = []
            for tier in self.tiers:
                heap, entries = tier.heap, tier.entry
                while heap:
                    entry = heap[0]
                    if stop_at is not None and entry >= stop_at:
                        break
                    index = entry & INDEX_MASK
                    if entries[index] != entry:
                        heappop(heap)  # left behind by a change
                        continue
                    room = rooms[index]
                    if bounded:
                        reserve = reserves[index]
                        fits = room[0] - vcpus >= reserve[0] and room[1] - ram_mb >= reserve[1] and (
                            room[2] - disk_gb >= reserve[2])
                    else:
                        fits = room[0] >= vcpus and room[1] >= ram_mb and room[2] >= disk_gb
                    if not fits:
                        heappop(heap)
                        small_vcpus, small_ram_mb, small_disk_gb = self.smallest
                        if room[0] < small_vcpus or room[1] < small_ram_mb or room[2] < small_disk_gb:
                            entries[index] = None  # no server fits any more: out until it gets room
                            continue
                        aside.append((heap, entry))
                        if stop_at is None:
                            stop_at = self.stop_entry(server, bound)
                        continue
                    name = names[index]
                    if allowed is not None and name not in allowed:
                        why = "candidates" if why == "capacity" else why
                        aside.append((heap, heappop(heap)))
                        continue
                    if (counts is not None and counts.get(name, 0) >= limit) or (
                            fenix_counts is not None and fenix_counts.get(name, 0) >= fenix_limit):
                        why = "group"
                        aside.append((heap, heappop(heap)))
                        continue
                    self._take(heap, entries, index, room, self.sizing[index], server)
                    for heap, entry in aside:
                        heappush(heap, entry)
                    return name, tier.rank, tag
            for heap, entry in aside:
                heappush(heap, entry)
        return None, -1, why

    def _take(self, heap: List[int], entries: List[Optional[int]], index: int, room: List[int],
              sizing: Tuple[float, ...], server: ServerModel) -> str:
        """The server's room on the host at the top of ``heap``, and the host in its place by its new fill."""
        room[0] -= server.vcpus
        room[1] -= server.ram_mb
        room[2] -= server.disk_gb
        # fill(), written out: max() with three arguments costs as much as the rest of it.
        fill = (sizing[3] - room[0]) * sizing[6]
        other = (sizing[4] - room[1]) * sizing[7]
        if other > fill:
            fill = other
        other = (sizing[5] - room[2]) * sizing[8]
        if other > fill:
            fill = other
        entry = (int(fill * FILL_STEPS) << INDEX_BITS) | index
        entries[index] = entry
        heapreplace(heap, entry)
        return self.names[index]

    def stop_entry(self, server: ServerModel, bound: float) -> int:
        """The heap entry from which on no host has the room for the server under ``bound``.

        The server's reach is its share of the largest host in its least demanding
        resource: a host filled above bound - reach would pass the bound in its
        fullest resource with the server on it.
        """
        share_vcpu, share_ram, share_disk = self.share
        reach = min(server.vcpus * share_vcpu, server.ram_mb * share_ram, server.disk_gb * share_disk)
        return (math.floor((bound - reach) * FILL_STEPS) + 1) << INDEX_BITS

    def unplace(self, server: ServerModel, target: str) -> None:
        room = self.free[target]
        room[0] += server.vcpus
        room[1] += server.ram_mb
        room[2] += server.disk_gb
        if server.id in self.limited_ids:
            self.count_member(server, target, -1)
        if self.status[target] == PENDING:
            self.incoming[target] -= 1
        self.push(target)

    def count_member(self, server: Union[ServerModel, Move], host: str, delta: int) -> None:
        """The server (or the server of a move) joins (1) or leaves (-1) ``host`` in each of its groups limited per host."""
        if self.limits.get(server.group_id) is not None:
            self.members[server.group_id][host] += delta
        if server.fenix_group_id is not None and self.limits.get(server.fenix_group_id) is not None:
            self.members[server.fenix_group_id][host] += delta

    def in_move_order(self, name: str) -> List[ServerModel]:
        """The host's servers in move_order (equal ones in the model's order): the members of groups limited
        per host first, then by flavor."""
        ordered = sorted(self.on_host.get(name, ()), key=_FLAVOR, reverse=True)  # stable: equal ones keep their order
        if name not in self.limited_hosts:
            return ordered
        limited_ids = self.limited_ids
        return ([server for server in ordered if server.id in limited_ids]
                + [server for server in ordered if server.id not in limited_ids])

    # --- one host ----------------------------------------------------------
    def attempt(self, name: str) -> _Attempt:
        """Place every server of the host, tentatively (undo() takes the moves back)."""
        result = _Attempt(host=name)
        instances, limited_ids = self.model.instances, self.limited_ids
        # The kind of a server that no instance rule or affinity group concerns, by its status, when it
        # moves with a target as it is (on a host that is down, every server is a blocker).
        plain = self.plain_kinds if self.hosts[name].up else {}
        moves, grouped = result.moves, result.grouped
        moved_vcpus = moved_ram_mb = moved_disk_gb = 0
        for server in self.in_move_order(name):
            kind = None if server.id in instances or server.group_policy == HARD_AFFINITY else plain.get(server.status)
            if kind is None:
                kind = self.kind_or_problem(server, result)
                if kind is None:
                    continue  # left on the host (skip) or a blocker
            # Its project moves or removes it (OWN_ACTION), or where Nova may put it is not known (unmodelled):
            # no target to plan, none to hold.
            if kind == OWN_ACTION or server.unmodelled is not None:
                move = Move(server.id, server.project_id, server.name, name, None, kind,
                            server.group_id, False, server.fenix_group_id)
                moves.append(move)
                if server.group_id is not None or server.fenix_group_id is not None:
                    grouped.append(move)
                if kind != OWN_ACTION:
                    result.unmodelled.append(server)
                moved_vcpus += server.vcpus
                moved_ram_mb += server.ram_mb
                moved_disk_gb += server.disk_gb
                continue
            target, tier, why = self.claim_target(server)
            if target is None:
                result.problems.append(Blocker(server.id, server.name, server.project_id, name,
                                               self.no_target_reason(server, why)))
                if why == "capacity":
                    for index, amount in enumerate(server.need):
                        result.short[index] += amount
                    result.short_servers += 1
                continue
            moved_vcpus += server.vcpus
            moved_ram_mb += server.ram_mb
            moved_disk_gb += server.disk_gb
            again = tier >= TIER_LATER  # a host still to maintain (PENDING): the server will move again
            if again:
                self.incoming[target] += 1
                result.again.append((server, target))
            if why:
                result.over_fill.append((server, target))
            move = Move(server.id, server.project_id, server.name, name, target, kind,
                        server.group_id, again, server.fenix_group_id)
            moves.append(move)
            if server.group_id is not None or server.fenix_group_id is not None:
                grouped.append(move)
                if server.id in limited_ids:
                    self.count_member(server, target, 1)
        result.moved = [moved_vcpus, moved_ram_mb, moved_disk_gb]
        return result

    def kind_or_problem(self, server: ServerModel, result: _Attempt) -> Optional[str]:
        """How the server moves (LIVE_MIGRATE, MIGRATE, OWN_ACTION); None: it stays (skip) or is a blocker,
        put in ``result``."""
        kind, reason = self.kind_of(server, self.actions, self.cold_seconds)
        if kind == SKIP:
            result.skipped.append(server)
            return None
        if reason is None and not self.hosts[result.host].up and kind is not None:
            reason = "its host %s is down (nova-compute not up), so Nova cannot migrate it" % result.host
        if reason is not None:
            result.problems.append(Blocker(server.id, server.name, server.project_id, result.host, reason))
            return None
        return kind

    def undo(self, attempt: _Attempt) -> None:
        by_id = {server.id: server for server in self.on_host.get(attempt.host, ())}
        for move in attempt.moves:
            if move.to_host is not None:
                self.unplace(by_id[move.server_id], move.to_host)
        attempt.moves, attempt.grouped, attempt.again, attempt.over_fill = [], [], [], []
        attempt.moved, attempt.unmodelled = [0, 0, 0], []

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
        if why == "candidates":
            return ("no enabled host outside its batch that may take it (the hosts its flavor and image allow)"
                    " has room for it")
        return ("no enabled host outside its batch has room for its flavor (%d vCPU, %d MB RAM, %d GB disk);"
                " capacity is short: scale in or add hosts" % server.need)

    # --- commit ------------------------------------------------------------
    def commit(self, batch_hosts: List[str], attempts: Dict[str, _Attempt]) -> None:
        on_host = self.on_host
        for name in batch_hosts:
            attempt = attempts[name]
            room = self.free[name]
            room[0] += attempt.moved[0]
            room[1] += attempt.moved[1]
            room[2] += attempt.moved[2]
            for move in attempt.grouped:
                if move.server_id in self.limited_ids:
                    self.count_member(move, name, -1)
            # Only a host still to maintain is emptied later: only its servers are needed.
            for server, target in attempt.again:
                on_host[target].append(server)
                if server.id in self.limited_ids:
                    self.limited_hosts.add(target)
            on_host[name] = list(attempt.skipped)
            self.status[name] = DONE
            if self.hosts[name].enabled and self.hosts[name].up:
                # Emptied and maintained, the host is the best target from now on (a host someone
                # else disabled stays disabled, so it is not one).
                self.tier_of[name] = TIER_MAINTAINED
                self.push(name)
            for server, target in attempt.over_fill:
                self.over_fill[0] += 1
                self.over_fill[1] += server.vcpus
                self.over_fill[2] += server.ram_mb
                self.over_fill[3] += server.disk_gb
                self.over_fill_hosts[target] = None
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
        for move in attempt.grouped:
            for group_id in move.groups:
                moving[group_id] += 1
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
        if not attempt.skipped and not self.staying:
            # Only members left on a host make a refusal (_group_refusal): none in the batch, none here.
            moving = self.moving
            for move in attempt.grouped:
                for group_id in move.groups:
                    moving[group_id] += 1
            return None
        staying, moving = _group_members([attempt])
        refusal = self._first_refusal(staying, moving)
        if refusal is None:
            for group_id, count in staying.items():
                self.rank.setdefault(group_id, len(self.rank))
                self.staying[group_id] += count
            for group_id, count in moving.items():
                self.moving[group_id] += count
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


def split_waves(moves: List[Move], staying: Counter, groups: Dict[str, GroupRule],
                grouped: Optional[List[Move]] = None) -> List[List[Move]]:
    """Waves of moves such that no group has more than max_impacted_members impacted in one wave.

    A move goes into the first wave where each of its groups still has room
    (a server in a Nova server group and a Fenix instance group counts in both).
    ``grouped``: the moves of servers in a group, in order, when the caller has them.
    """
    if grouped is None:
        grouped = [move for move in moves if move.group_id is not None or move.fenix_group_id is not None]
    later: List[List[Move]] = []  # the waves after the first
    in_wave: Dict[str, List[int]] = {}  # group -> members moving in each wave
    per_wave_of: Dict[str, Optional[int]] = {}  # group -> members it lets move in one wave (None: any number)
    for move in grouped:
        limited = []
        for group_id in move.groups:
            if group_id in per_wave_of:
                per_wave = per_wave_of[group_id]
            else:
                rule = groups.get(group_id)
                per_wave = per_wave_of[group_id] = (
                    None if rule is None or rule.max_impacted_members is None
                    else max(1, rule.max_impacted_members - staying[group_id]))
            if per_wave is not None:
                limited.append((group_id, per_wave))
        if not limited:
            continue  # the first wave
        wave = 0
        while any(len(in_wave.get(group_id, ())) > wave and in_wave[group_id][wave] >= per_wave
                  for group_id, per_wave in limited):
            wave += 1
        for group_id, _per_wave in limited:
            counts = in_wave.setdefault(group_id, [])
            while len(counts) <= wave:
                counts.append(0)
            counts[wave] += 1
        if wave:
            while len(later) < wave:
                later.append([])
            later[wave - 1].append(move)
    # Every other move, in order, goes first (a later wave exists only when the one before it has moves).
    if later:
        held = {id(move) for wave in later for move in wave}
        first = [move for move in moves if id(move) not in held]
    else:
        first = list(moves)
    return [first] + later if first else later


def estimate_batch(batch: Batch, model: CloudModel, settings: PlanSettings,
                   grouped: Optional[List[Move]] = None) -> Estimate:
    """Seconds: notice (largest lead_time), waves one after the other, recovery between waves, host work, orchestration.

    ``grouped``: the batch's moves of servers in a group, when the caller has them.
    """
    instances, waves = model.instances, batch.waves
    if runs_overlapped(waves, settings):
        estimate = Estimate(waves=[overlapped_seconds(waves, model, settings)], host=settings.host_seconds,
                            orchestration=settings.batch_overhead_seconds, overlapped=True)
    else:
        estimate = Estimate(waves=[wave_seconds(wave, settings) for wave in waves], host=settings.host_seconds,
                            orchestration=settings.batch_overhead_seconds)
    if instances:
        moving = set(map(_SERVER_ID, (move for wave in waves for move in wave)))
        estimate.lead_time = max((instances[server_id].lead_time for server_id in instances.keys() & moving),
                                 default=0.0)
    if len(waves) > 1 and not estimate.overlapped:
        # A group's recovery_time lies between two waves that both move members of it. Every move of a
        # later wave is of a grouped server; the first wave's grouped moves are the others.
        held = {id(move) for wave in waves[1:] for move in wave}
        if grouped is None:
            grouped = [move for move in waves[0] if move.group_id is not None or move.fenix_group_id is not None]
        in_waves = [{group_id for move in grouped if id(move) not in held for group_id in move.groups}]
        in_waves += [{group_id for move in wave for group_id in move.groups} for wave in waves[1:]]
        for groups, next_groups in zip(in_waves, in_waves[1:]):
            estimate.recovery += max((model.groups[group_id].recovery_time for group_id in groups & next_groups
                                      if group_id in model.groups), default=0.0)
    return estimate


def runs_overlapped(waves: List[List[Move]], settings: PlanSettings) -> bool:
    """Whether the executor runs these waves together (instance_actions' overlaps_waves): several waves, more than
    one migration at a time, and only migrations (a project's own action is awaited wave by wave)."""
    return (settings.concurrency > 1 and len(waves) > 1
            and all(move.kind in (LIVE_MIGRATE, MIGRATE) for wave in waves for move in wave))


def overlapped_seconds(waves: List[List[Move]], model: CloudModel, settings: PlanSettings) -> float:
    """How long waves run together take: the busiest host over all their moves, their share of the overall
    concurrency, or the longest group's chain - its members wave after wave, its recovery_time between them."""
    per_round = round_seconds(settings)
    moves = [move for wave in waves for move in wave]
    longest = max(wave_seconds(moves, settings), sum(per_round[move.kind] for move in moves) / settings.concurrency)
    # One pass over the moves: a group's longest member move in each wave it has members in.
    member_waves: Dict[str, Dict[int, float]] = defaultdict(dict)
    for index, wave in enumerate(waves):
        for move in wave:
            for group_id in move.groups:
                in_wave = member_waves[group_id]
                in_wave[index] = max(in_wave.get(index, 0.0), per_round[move.kind])
    for group_id, in_wave in member_waves.items():
        rule = model.groups.get(group_id)
        recovery = rule.recovery_time if rule is not None else 0.0
        longest = max(longest, sum(in_wave.values()) + recovery * (len(in_wave) - 1))
    return longest


def round_seconds(settings: PlanSettings) -> Dict[str, float]:
    """Seconds of one migration of each kind, as the estimate counts them."""
    return {LIVE_MIGRATE: settings.live_migration_seconds, MIGRATE: settings.estimated_cold_seconds}


def wave_seconds(wave: List[Move], settings: PlanSettings) -> float:
    """How long the wave's busiest host is busy, as a source or as a target.

    A source runs ``migrations_per_host`` migrations at once (Nova's
    max_concurrent_live_migrations), a target receives ``incoming_per_host`` at
    once; each host runs its live migrations, then its cold ones, in rounds of
    that many. A project's own action (no target) counts at its source, as
    long as a live migration.
    """
    return max(_busiest(Counter(map(_SOURCE_AND_KIND, wave)), settings.migrations_per_host, settings),
               _busiest(Counter(map(_TARGET_AND_KIND, wave)), settings.incoming_per_host, settings))


def _busiest(counts: Dict[Tuple[Optional[str], str], int], at_once: int, settings: PlanSettings) -> float:
    """Seconds of the busiest host, from its migrations per (host, kind), ``at_once`` at a time."""
    if OWN_ACTION in set(map(_SECOND, counts)):
        for host, kind in [key for key in counts if key[1] == OWN_ACTION]:
            counts[(host, LIVE_MIGRATE)] += counts.pop((host, kind))  # as long as a live migration
    at_once = max(1, at_once)
    per_round = round_seconds(settings)
    busy: Dict[str, float] = {}
    for (host, kind), count in counts.items():
        if host is not None:  # a project's own action has no target
            busy[host] = busy.get(host, 0.0) + -(-count // at_once) * per_round[kind]
    return max(busy.values(), default=0.0)


def host_order(model: CloudModel, hosts: Iterable[str], servers: ServersRead) -> List[str]:
    """Empty hosts first, then the fewest servers, then the most free vCPU (Fenix's choice of host to empty).

    A model of one batch's servers does not know the others' counts: they order by free vCPU alone."""
    on_host: Dict[str, List[ServerModel]] = servers.on_host if model.servers_complete else {}

    def key(name: str) -> tuple:
        host = model.hosts[name]
        return (len(on_host.get(name, ())), host.used.get(VCPU, 0) - host.capacity.get(VCPU, UNLIMITED), name)
    return sorted(hosts, key=key)


def limited_members_last_in_first_batch(model: CloudModel, order: List[str], width: int,
                                        servers: ServersRead) -> List[str]:
    """``order`` with up to ``width`` hosts that hold no member of a group limited by max_impacted_members first.

    For a plan that starts with no host maintained: unless a host outside the maintenance takes them, the
    first batch's servers go to hosts of later batches and move again there. Free servers move side by
    side, but the members of such a group move one after the other, recovery_time after each, so every
    member in the first batch lengthens two batches. The other hosts keep their order, so the members of a
    group stay spread over the later batches.
    """
    holding = servers.impact_limited_hosts
    if not holding or not model.servers_complete or not order:
        return order
    free = [name for name in order if name not in holding][:width]
    if not free or free == order[:len(free)]:
        return order
    first = set(free)
    return free + [name for name in order if name not in first]


def _finish_batch(state: _State, hosts: List[str], attempts: Dict[str, _Attempt], plan: Plan,
                  settings: PlanSettings) -> Batch:
    staying = Counter()
    skipped = []
    moves: List[Move] = []
    grouped: List[Move] = []
    for name in hosts:
        attempt = attempts[name]
        moves.extend(attempt.moves)
        grouped.extend(attempt.grouped)
        for server in attempt.skipped:
            staying.update(server.groups)
            skipped.append({"server_id": server.id, "name": server.name, "project_id": server.project_id,
                            "host": name, "status": server.status,
                            "reason": "server_policy.%s is skip" % policy_key(server.status)})
        # Not the servers moved onto the host by an earlier batch: they are listed already.
        # Listed here, while the batch's servers are still in the processor's caches.
        for server in state.on_host.get(name, [])[:state.originally.get(name, 0)]:
            state.projects[server.project_id].append(server.id)
        plan.double_moves += len(attempt.again)
        plan.scheduler_moves.extend({"server_id": server.id, "name": server.name, "project_id": server.project_id,
                                     "host": name, "reason": server.unmodelled} for server in attempt.unmodelled)
    batch = Batch(hosts=list(hosts), waves=split_waves(moves, staying, state.model.groups, grouped), skipped=skipped)
    batch.estimate = estimate_batch(batch, state.model, settings, grouped)
    batch.estimated_seconds = batch.estimate.total
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
                     maintained: Iterable[str] = (), candidates: Optional[CandidateFilter] = None) -> Plan:
    """Batches for every host of ``hosts`` not in ``maintained``, in order, with a target per server.

    ``candidates``: the hosts each server may go to besides the planner's rules (None: the hosts its
    requirements allow, CloudModel.candidate_filter).
    """
    maintained = set(maintained)
    unknown = sorted(set(hosts) - set(model.hosts))
    if unknown:
        raise ValueError("hosts: %s not in the cloud model; known hosts: %s"
                         % (", ".join(unknown), ", ".join(sorted(model.hosts)) or "none"))
    if settings.max_parallel_hosts < 1:
        raise ValueError("max_parallel_hosts: %d; give at least 1" % settings.max_parallel_hosts)
    # In the order given (the model's, usually): a set's order would read the hosts all over memory.
    to_maintain = [name for name in dict.fromkeys(hosts) if name not in maintained]
    servers = read_servers(model)
    order = host_order(model, to_maintain, servers)
    if not maintained:
        order = limited_members_last_in_first_batch(model, order, settings.max_parallel_hosts, servers)
    # Targets among hosts still to maintain: the last in the order first, as they go last.
    state = _State(model, settings, list(reversed(order)), maintained, to_maintain, servers,
                   candidates if candidates is not None else model.candidate_filter())
    availability = _Availability(model, settings)
    plan = Plan()
    any_empty = any(not state.on_host.get(name) for name in order)
    widths = _BatchWidths(settings, ramping=settings.ramp_up and not maintained and not any_empty)
    failures: Dict[str, Tuple[str, Optional[_Attempt]]] = {}
    pending = list(order)
    while pending:
        limit = widths.limit(len(plan.batches))
        width = limit[0]
        for name in pending[:width]:
            state.next_in_line(name)
        availability.reset()
        impact = _BatchImpact(model.groups)
        batch_hosts: List[str] = []
        attempts: Dict[str, _Attempt] = {}
        failures = {}
        target: Optional[str] = None  # the first host left out as a target of this batch
        scanned = len(pending)
        for index, name in enumerate(pending):
            if len(batch_hosts) >= width or (
                    batch_hosts and len(failures) >= FAILED_TRIES_PER_BATCH):
                scanned = index
                break
            if state.incoming.get(name):
                target = target or name
                continue
            refusal = availability.refusal(name)
            if refusal is not None:
                failures[name] = (refusal, None)
                continue
            state.join_batch(name)
            attempt = state.attempt(name)
            refusal = None if attempt.problems else impact.admit(attempt)
            if attempt.problems or refusal:
                state.undo(attempt)
                state.leave_batch(name)
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
        batch = _finish_batch(state, batch_hosts, attempts, plan, settings)
        batch.bound = _width_bound(limit, batch_hosts, failures, target)
        # The batch's hosts are all in the part scanned: compacting only that keeps each batch
        # in the time of its own scan, not of every host still pending.
        done = set(batch_hosts)
        pending[:scanned] = [name for name in pending[:scanned] if name not in done]
    if not any_empty and plan.batches:
        # PREPARE_MAINTENANCE: no host to maintain is empty, so the first one planned is emptied first.
        plan.prepare_host = plan.batches[0].hosts[0]
    if plan.batches:
        plan.session_overhead_seconds = settings.session_overhead_seconds
        plan.estimated_seconds += settings.session_overhead_seconds
    return _finish_plan(plan, state)


@_without_cyclic_gc
def plan_batch(model: CloudModel, hosts: Iterable[str], settings: PlanSettings,
               maintained: Iterable[str] = (), pending: Iterable[str] = (),
               candidates: Optional[CandidateFilter] = None) -> Plan:
    """Exactly ``hosts`` as one batch, with fresh targets against the current model.

    ``pending`` names the other hosts still to maintain (targets of last resort).
    The plan has blockers (and no batch) when the rules cannot be met.
    """
    hosts = sorted(set(hosts))
    unknown = sorted(set(hosts) - set(model.hosts))
    if unknown:
        raise ValueError("batch: %s not in the cloud model; known hosts: %s"
                         % (", ".join(unknown), ", ".join(sorted(model.hosts)) or "none"))
    servers = read_servers(model)
    later = host_order(model, set(pending) - set(hosts) - set(maintained), servers)
    state = _State(model, settings, list(reversed(later)), set(maintained) - set(hosts), list(hosts) + later, servers,
                   candidates if candidates is not None else model.candidate_filter())
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
        attempt = state.attempt(name)
        attempts[name] = attempt
        if attempt.problems:
            failures[name] = (_describe_failure(attempt), attempt)
    if not failures:
        refusal = _impact_refusal(attempts.values(), model.groups)
        if refusal:
            failures = {name: (refusal, None) for name in hosts}
    if failures:
        _record_failures(plan, failures)
        return _finish_plan(plan, state)
    _finish_batch(state, hosts, attempts, plan, settings).bound = "the hosts given as the batch"
    return _finish_plan(plan, state)


class _BatchWidths:
    """How many hosts each batch may take: max_parallel_hosts, or with ramp_up 1, 2, 4, ... up to it."""

    def __init__(self, settings: PlanSettings, ramping: bool) -> None:
        self.most = settings.max_parallel_hosts
        self.ramping = ramping

    def of(self, index: int) -> int:
        if not self.ramping or index >= self.most.bit_length():
            return self.most
        return min(self.most, 2 ** index)

    def limit(self, index: int) -> Tuple[int, str]:
        """The width of batch ``index`` and the rule that sets it."""
        width = self.of(index)
        if width < self.most:
            return width, "ramp_up: batch %d takes at most %d of max_parallel_hosts %d" % (index + 1, width, self.most)
        return width, "max_parallel_hosts is %d" % width


def _width_bound(limit: Tuple[int, str], batch_hosts: List[str], failures: Dict[str, Tuple[str, Optional[_Attempt]]],
                 target: Optional[str]) -> str:
    """Why a batch has no more hosts: its width limit, the first host the rules kept out, or none left to try."""
    width, rule = limit
    if len(batch_hosts) >= width:
        return rule
    if failures:
        name, (reason, _attempt) = next(iter(failures.items()))
        others = len(failures) - 1
        return "%s cannot join it%s: %s" % (name, " (nor can %d more)" % others if others else "", reason)
    if target is not None:
        return "%s, the next host, takes servers of this batch" % target
    return "no other host is left to maintain"


def _finish_plan(plan: Plan, state: _State) -> Plan:
    """Each project's servers on the planned hosts, and what was placed past max_fill."""
    plan.projects = dict(state.projects)
    servers, vcpus, ram_mb, disk_gb = state.over_fill
    if servers:
        plan.over_fill = {"max_fill": state.max_fill, "servers": servers, "vcpus": vcpus, "memory_mb": ram_mb,
                          "disk_gb": disk_gb, "hosts": sorted(state.over_fill_hosts)}
    return plan
