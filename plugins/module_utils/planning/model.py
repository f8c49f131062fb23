# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""What the planner reads: the cloud as a model, the projects' constraints, and the plan settings.

A CloudModel holds the compute hosts (capacity and usage per Placement resource
class, zone, aggregates, service state), the servers on them (flavor, status,
server group), and the constraints projects set through the Fenix API
(instance groups and instances). PlanSettings holds the operator's choices:
batch size, max_unavailable limits, server policy, how full a target may get,
and the timings and migrations at once that the estimates use. planning/input.py reads a CloudModel from the cloud.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import AbstractSet, Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple, Union

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.drain import DEFAULT_POLICY
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import DEFAULT_PER_TARGET
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.requirements import ANY_HOST, Requirements
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import ACTION_ALIASES, COLD_MIGRATION_SECONDS

VCPU = "VCPU"
MEMORY_MB = "MEMORY_MB"
DISK_GB = "DISK_GB"
RESOURCES = (VCPU, MEMORY_MB, DISK_GB)
# A resource class a provider has no inventory of (shared storage, say) does not limit.
UNLIMITED = 1 << 60

# The fraction of any resource a target may be filled to when the cloud has the room (PlanSettings.max_fill).
DEFAULT_MAX_FILL = 0.85

# Nova server group policies the planner treats as hard rules.
HARD_ANTI_AFFINITY = "anti-affinity"
HARD_AFFINITY = "affinity"


def label_of(name: Optional[str], identifier: str) -> str:
    """"name (id)" when the name says more than the id, else the id."""
    if name and name != identifier:
        return "%s (%s)" % (name, identifier)
    return identifier


def _positive_or_none(value) -> Optional[int]:
    if value is None or value == "":
        return None
    number = int(value)
    return number if number > 0 else None


@dataclass
class HostModel:
    name: str
    availability_zone: Optional[str] = None
    aggregates: Tuple[str, ...] = ()
    # Per resource class (VCPU, MEMORY_MB, DISK_GB): capacity = (total - reserved) * allocation_ratio.
    capacity: Dict[str, int] = field(default_factory=dict)
    used: Dict[str, int] = field(default_factory=dict)
    enabled: bool = True
    up: bool = True
    # Disabled by the session planned (or, planning without one, by this collection without a
    # session): enabled again when its batch ends.
    disabled_by_us: bool = False
    # Why the host is disabled, as Nova has it (None when enabled).
    disabled_reason: Optional[str] = None

    def free(self) -> List[int]:
        return [
            (self.capacity[rc] if rc in self.capacity else UNLIMITED) - self.used.get(rc, 0)
            for rc in RESOURCES
        ]


# Slots: a model of a large cloud holds millions, and the planner reads each one's fields once per placement (with
# slots they sit in the object itself, one place in memory instead of two).
@dataclass(slots=True)
class ServerModel:
    id: str
    name: str
    project_id: str
    host: str
    status: str
    vcpus: int = 0
    ram_mb: int = 0
    disk_gb: int = 0
    group_id: Optional[str] = None
    group_policy: Optional[str] = None
    # A Fenix instance group the server is in besides its Nova server group (its instance constraint
    # names another group): both groups' rules hold for it.
    fenix_group_id: Optional[str] = None
    # What its target must offer besides room (traits, zone, aggregate metadata: planning/requirements.py).
    requirements: Requirements = ANY_HOST
    # Why the planner cannot model where Nova may put it (an extra spec it does not know): it moves without a
    # named target, the scheduler chooses.
    unmodelled: Optional[str] = None

    @property
    def groups(self) -> Tuple[str, ...]:
        """Every group whose rules hold for the server: its Nova server group (or Fenix group), then its other one."""
        if self.fenix_group_id is not None:
            return (self.group_id, self.fenix_group_id) if self.group_id is not None else (self.fenix_group_id,)
        return (self.group_id,) if self.group_id is not None else ()

    @property
    def need(self) -> Tuple[int, int, int]:
        return (self.vcpus, self.ram_mb, self.disk_gb)

    @property
    def label(self) -> str:
        return label_of(self.name, self.id)


@dataclass
class GroupRule:
    """Constraints of an instance group (Fenix /v1/instance_group), keyed by the Nova server group id."""

    group_id: str
    max_impacted_members: Optional[int] = None
    anti_affinity_group: bool = False
    max_instances_per_host: Optional[int] = None
    recovery_time: float = 0.0
    group_name: Optional[str] = None
    project_id: Optional[str] = None

    @classmethod
    def from_constraint(cls, body: dict) -> "GroupRule":
        return cls(
            group_id=body["group_id"],
            max_impacted_members=_positive_or_none(body.get("max_impacted_members")),
            anti_affinity_group=bool(body.get("anti_affinity_group")),
            max_instances_per_host=_positive_or_none(body.get("max_instances_per_host")),
            recovery_time=float(body.get("recovery_time") or 0),
            group_name=body.get("group_name"),
            project_id=body.get("project_id"),
        )


@dataclass
class InstanceRule:
    """Constraints of one instance (Fenix /v1/instance)."""

    instance_id: str
    migration_type: Optional[str] = None
    max_interruption_time: Optional[float] = None
    lead_time: float = 0.0
    group_id: Optional[str] = None

    @classmethod
    def from_constraint(cls, body: dict) -> "InstanceRule":
        return cls(
            instance_id=body["instance_id"],
            migration_type=body.get("migration_type"),
            max_interruption_time=body.get("max_interruption_time"),
            lead_time=float(body.get("lead_time") or 0),
            group_id=body.get("group_id"),
        )

    @property
    def action(self) -> Optional[str]:
        """The instance's own default action (EVICTION is one its project performs, OWN_ACTION); None if unset."""
        return ACTION_ALIASES.get(self.migration_type, self.migration_type)

    def interrupted_too_long_by(self, seconds: float) -> bool:
        """A move stopping the instance ``seconds`` would exceed its max_interruption_time."""
        return self.max_interruption_time is not None and float(self.max_interruption_time) < seconds


@dataclass
class CloudModel:
    hosts: Dict[str, HostModel]
    servers: List[ServerModel]
    groups: Dict[str, GroupRule] = field(default_factory=dict)
    instances: Dict[str, InstanceRule] = field(default_factory=dict)
    group_names: Dict[str, str] = field(default_factory=dict)
    # The hosts that meet each requirement of a server (none listed: any host meets it).
    allowed_hosts: Dict[Requirements, FrozenSet[str]] = field(default_factory=dict)
    # False when only a batch's servers (and their groups' other members) were read: the others'
    # hosts are not known to hold none.
    servers_complete: bool = True

    def candidate_filter(self) -> Optional[Callable[[ServerModel], Optional[AbstractSet[str]]]]:
        """The planner's ``candidates``: the hosts a server's requirements allow (None: every host)."""
        if not self.allowed_hosts:
            return None
        allowed = self.allowed_hosts
        return lambda server: allowed.get(server.requirements)

    def with_constraints(self, instance_groups: Iterable[dict], instances: Iterable[dict]) -> "CloudModel":
        """Add the stored constraint bodies (as Journal.constraints returns them).

        An instance constraint's group_id puts a server that is in no Nova server
        group into that instance group; a server in a Nova server group goes into
        that instance group too (fenix_group_id), and both groups' rules hold.
        """
        for body in instance_groups:
            rule = GroupRule.from_constraint(body)
            self.groups[rule.group_id] = rule
            if rule.group_name:
                self.group_names.setdefault(rule.group_id, rule.group_name)
        for body in instances:
            rule = InstanceRule.from_constraint(body)
            self.instances[rule.instance_id] = rule
        by_id = {server.id: server for server in self.servers}
        for rule in self.instances.values():
            server = by_id.get(rule.instance_id)
            if server is None or not rule.group_id or rule.group_id == server.group_id:
                continue
            if server.group_id is None:
                server.group_id = rule.group_id
            else:
                server.fenix_group_id = rule.group_id
        return self


@dataclass
class PlanSettings:
    max_parallel_hosts: int = 1
    # An int, or a percentage of the zone's / aggregate's hosts as "25%" (at least 1); None: no limit.
    max_unavailable_per_zone: Union[int, str, None] = None
    max_unavailable_per_aggregate: Union[int, str, None] = None
    server_policy: Dict[str, str] = field(default_factory=lambda: dict(DEFAULT_POLICY))
    live_migration_seconds: float = 10.0
    # The outage of a cold migration, which the max_interruption_time rule weighs.
    cold_migration_seconds: float = COLD_MIGRATION_SECONDS
    # A cold migration in the estimate, when the journal's history says better; None: cold_migration_seconds.
    # Learnt durations never loosen the max_interruption_time rule, hence their own field.
    cold_migration_estimate_seconds: Optional[float] = None
    host_seconds: float = 300.0
    # A batch's steps besides moves and host work, as the caller measured them (0: not counted).
    batch_overhead_seconds: float = 0.0
    # The session's steps before its first batch and after its last, once per plan of every host (0: not counted).
    session_overhead_seconds: float = 0.0
    # Migrations running at once from one source host (Nova's max_concurrent_live_migrations).
    migrations_per_host: int = 1
    # Migrations running at once in all (the executor's concurrency). Above 1 the executor runs a batch's waves
    # of migrations together: a move of a later wave waits only for its groups' earlier members.
    concurrency: int = 1
    # Migrations running at once into one target host (the executor's concurrency_per_target).
    incoming_per_host: int = DEFAULT_PER_TARGET
    # No target is filled past this fraction of its capacity in any resource (capacity as Placement has
    # it: vCPU with the allocation ratio) while another host has the room; 1.0: up to the capacity.
    max_fill: float = DEFAULT_MAX_FILL
    # When no host is maintained yet and none to maintain is empty, the first batches grow 1, 2, 4, ... hosts up to
    # max_parallel_hosts: fewer of the first batch's servers move twice, and later batches move onto maintained hosts.
    ramp_up: bool = False

    def policy(self, key: str) -> str:
        return (self.server_policy or {}).get(key) or DEFAULT_POLICY[key]

    @property
    def estimated_cold_seconds(self) -> float:
        if self.cold_migration_estimate_seconds is not None:
            return self.cold_migration_estimate_seconds
        return self.cold_migration_seconds


def resolve_limit(value: Union[int, str, None], total: int) -> Optional[int]:
    """max_unavailable as a host count: an int, or "N%" of ``total`` hosts (at least 1)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.endswith("%"):
        percent = float(text[:-1])
        return max(1, int(math.floor(total * percent / 100.0)))
    count = int(text)
    if count < 1:
        raise ValueError("max_unavailable: %r would let no host go down; give at least 1 or a percentage" % value)
    return count


def validate_fill(name: str, value: float) -> None:
    """ValueError naming the option when ``value`` is not a fraction of a host's capacity in (0, 1]."""
    if not 0 < value <= 1:
        raise ValueError("%s: %r is not a fraction of a host's capacity; give a number above 0 and at most 1"
                         " (0.85: no target above 85%% of any resource while the cloud has the room; 1: no limit)"
                         % (name, value))


def validate_limit(name: str, value: Union[int, str, None]) -> None:
    """ValueError naming the option when ``value`` is neither a count nor a percentage."""
    try:
        resolve_limit(value, 100)
    except ValueError as exc:
        raise ValueError("%s: %r is not a number of hosts or a percentage like '25%%'; %s" % (name, value, exc))
