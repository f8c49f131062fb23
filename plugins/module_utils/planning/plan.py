# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""What the planner returns: batches of hosts, the moves of their servers in waves, and blockers.

A Plan lists its Batches in the order to run them; each Batch has the hosts
that go down together and its Moves in waves (one wave after the other);
a Blocker is a server that cannot move, with why. ``as_dict`` gives each as
the plain data the modules return and the journal stores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import label_of


class Move:
    """One server to move; a plain class with slots, as a plan of a large cloud holds hundreds of thousands."""

    __slots__ = ("server_id", "project_id", "name", "from_host", "to_host", "kind", "group_id", "moves_again",
                 "fenix_group_id")

    def __init__(self, server_id: str, project_id: str, name: str, from_host: str, to_host: Optional[str], kind: str,
                 group_id: Optional[str] = None, moves_again: bool = False,
                 fenix_group_id: Optional[str] = None) -> None:
        self.server_id = server_id
        self.project_id = project_id
        self.name = name
        self.from_host = from_host
        self.to_host = to_host  # None for OWN_ACTION: the project moves or removes the instance itself
        self.kind = kind
        self.group_id = group_id
        # The target is a host of a later batch: the server will move once more.
        self.moves_again = moves_again
        # The Fenix instance group of a server that is in a Nova server group too (ServerModel.fenix_group_id).
        self.fenix_group_id = fenix_group_id

    @property
    def groups(self) -> Tuple[str, ...]:
        """The groups whose max_impacted_members and recovery_time this move counts for."""
        if self.fenix_group_id is None:
            return () if self.group_id is None else (self.group_id,)
        return (self.fenix_group_id,) if self.group_id is None else (self.group_id, self.fenix_group_id)

    def as_dict(self) -> dict:
        return {
            "server_id": self.server_id,
            "project_id": self.project_id,
            "name": self.name,
            "from_host": self.from_host,
            "to_host": self.to_host,
            "kind": self.kind,
            "group_id": self.group_id,
            "fenix_group_id": self.fenix_group_id,
            "moves_again": self.moves_again,
        }

    # Compared and shown like the dataclass it replaces (defining __eq__ leaves it unhashable, as that was).
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Move):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return "Move(%s)" % ", ".join("%s=%r" % item for item in self.as_dict().items())


@dataclass
class Blocker:
    server_id: str
    name: str
    project_id: str
    host: str
    reason: str

    @property
    def message(self) -> str:
        return "server %s of project %s cannot move: %s" % (
            label_of(self.name, self.server_id), self.project_id, self.reason)

    def as_dict(self) -> dict:
        return dict(asdict(self), message=self.message)


@dataclass
class Estimate:
    """A batch's seconds by what takes them: the projects' notice, each wave, the groups' recovery, the host's work,
    and the orchestration around them (planning the batch, disabling and enabling, asking, notifying)."""
    lead_time: float = 0.0
    waves: List[float] = field(default_factory=list)
    recovery: float = 0.0
    host: float = 0.0
    orchestration: float = 0.0
    # The waves run together (the executor overlaps them): ``waves`` is then one figure for all of them, the
    # longest of their busiest host, their share of the overall concurrency and each group's chain of waves
    # with its recovery_time, which ``recovery`` no longer adds.
    overlapped: bool = False

    @property
    def total(self) -> float:
        return self.lead_time + sum(self.waves) + self.recovery + self.host + self.orchestration

    def as_dict(self) -> dict:
        return {"lead_time": round(self.lead_time, 1), "waves": [round(seconds, 1) for seconds in self.waves],
                "recovery": round(self.recovery, 1), "host": round(self.host, 1),
                "orchestration": round(self.orchestration, 1), "overlapped": self.overlapped}


@dataclass
class Batch:
    hosts: List[str]
    waves: List[List[Move]] = field(default_factory=list)
    # Servers left on the batch's hosts during their maintenance (server_policy skip).
    skipped: List[dict] = field(default_factory=list)
    estimated_seconds: float = 0.0
    estimate: Estimate = field(default_factory=Estimate)
    # Why the batch has no more hosts: the rule that kept the next one out, or that none was left.
    bound: str = ""

    @property
    def moves(self) -> List[Move]:
        return [move for wave in self.waves for move in wave]

    def as_dict(self) -> dict:
        return {
            "hosts": list(self.hosts),
            "waves": [[move.as_dict() for move in wave] for wave in self.waves],
            "skipped": list(self.skipped),
            "estimated_seconds": round(self.estimated_seconds, 1),
            "estimate": self.estimate.as_dict(),
            "bound": self.bound,
        }


@dataclass
class Plan:
    batches: List[Batch] = field(default_factory=list)
    blockers: List[Blocker] = field(default_factory=list)
    # Hosts that no batch could take, each with why.
    unplanned_hosts: Dict[str, str] = field(default_factory=dict)
    scale_in: Optional[dict] = None
    # Targets filled past PlanSettings.max_fill because no host had the room under it (None: none was):
    # max_fill, the servers placed past it, their vCPU, RAM and disk, and the hosts.
    over_fill: Optional[dict] = None
    prepare_host: Optional[str] = None
    projects: Dict[str, List[str]] = field(default_factory=dict)
    estimated_seconds: float = 0.0
    # In estimated_seconds: the session's start and end around the batches (its asks to every project, the
    # plan, the final notice); none in the plan of one batch.
    session_overhead_seconds: float = 0.0
    double_moves: int = 0
    # Servers moved without a named target, the scheduler choosing, as the planner cannot model where Nova may
    # put them: {server_id, name, project_id, host, reason}.
    scheduler_moves: List[dict] = field(default_factory=list)

    @property
    def serial(self) -> List[int]:
        return [len(batch.hosts) for batch in self.batches]

    @property
    def ok(self) -> bool:
        return not self.blockers and not self.unplanned_hosts

    def as_dict(self) -> dict:
        return {
            "batches": [batch.as_dict() for batch in self.batches],
            "serial": self.serial,
            "blockers": [blocker.as_dict() for blocker in self.blockers],
            "unplanned_hosts": [{"host": host, "reason": reason} for host, reason in sorted(self.unplanned_hosts.items())],
            "scale_in": self.scale_in,
            "over_fill": self.over_fill,
            "prepare_host": self.prepare_host,
            "projects": [{"project_id": pid, "instance_ids": ids} for pid, ids in sorted(self.projects.items())],
            "estimated_seconds": round(self.estimated_seconds, 1),
            "session_overhead_seconds": round(self.session_overhead_seconds, 1),
            "moves": sum(len(wave) for batch in self.batches for wave in batch.waves),
            "double_moves": self.double_moves,
            "scheduler_moves": self.scheduler_moves,
        }
