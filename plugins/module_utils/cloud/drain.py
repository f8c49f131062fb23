# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Emptying a compute host: which server moves how, and waiting until it is empty."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (
    COLD,
    LIVE,
    MigrationRequest,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import (
    ServerView,
    host_allocations,
    provider_id_of,
    server_groups_by_member,
    server_view,
    servers_on,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError

SKIP = "skip"
FAIL = "fail"

# What a drain does with a server, by its status, unless the operator says otherwise.
DEFAULT_POLICY = {"active": LIVE, "paused": LIVE, "shutoff": COLD, "other": FAIL}
POLICY_CHOICES = {
    "active": (LIVE, COLD, SKIP, FAIL),
    "paused": (LIVE, SKIP, FAIL),
    "shutoff": (COLD, SKIP, FAIL),
    "other": (SKIP, FAIL),
}


@dataclass
class DrainPlan:
    moves: List[MigrationRequest] = field(default_factory=list)
    skipped: List[dict] = field(default_factory=list)
    blockers: List[dict] = field(default_factory=list)


def server_policy_argument_spec() -> dict:
    """The server_policy option (documented in the SERVER_POLICY doc fragment), from POLICY_CHOICES."""
    return dict(type="dict", default={}, options={
        key: dict(default=DEFAULT_POLICY[key], choices=list(choices)) for key, choices in POLICY_CHOICES.items()})


def policy_key(status: str) -> str:
    lowered = (status or "").lower()
    return lowered if lowered in ("active", "paused", "shutoff") else "other"


def move_order(server: ServerView) -> tuple:
    """Most constrained first: anti-affinity members, then the largest flavors.

    Moved later, an anti-affinity member may find the one host its group
    allows already filled by servers that could have gone anywhere.
    """
    group = server.server_group or {}
    flavor = server.flavor or {}
    return (
        group.get("policy") not in ("anti-affinity", "soft-anti-affinity"),
        -(flavor.get("vcpus") or 0),
        -(flavor.get("ram") or 0),
        server.name or "",
    )


def plan_drain(
    servers: List[ServerView],
    policy: Dict[str, str],
    target_host: Optional[str] = None,
) -> DrainPlan:
    """Sort the servers of a host into moves (in the order to move them), skips and blockers."""
    plan = DrainPlan()
    for server in sorted(servers, key=move_order):
        key = policy_key(server.status)
        action = policy.get(key) or DEFAULT_POLICY[key]
        entry = {
            "id": server.id,
            "name": server.name,
            "project_id": server.project_id,
            "status": server.status,
        }
        if server.task_state is not None:
            entry["reason"] = "server is busy with task %s" % server.task_state
            plan.blockers.append(entry)
        elif action == SKIP:
            entry["reason"] = "policy for %s servers is skip" % server.status
            plan.skipped.append(entry)
        elif action == FAIL:
            entry["reason"] = "policy for %s servers is fail; set server_policy.%s to %s" % (
                server.status,
                key,
                " or ".join(POLICY_CHOICES[key][:-1]),
            )
            plan.blockers.append(entry)
        else:
            plan.moves.append(MigrationRequest(server.id, kind=action, target_host=target_host,
                                               source_host=server.host))
    return plan


@dataclass
class HostContents:
    servers: List[ServerView]
    allocations: Dict[str, dict]

    @property
    def empty(self) -> bool:
        return not self.servers and not self.allocations

    def describe(self) -> List[dict]:
        """What is left on the host, each server with its project and status."""
        server_ids = {server.id for server in self.servers}
        left = [
            {
                "id": server.id,
                "name": server.name,
                "project_id": server.project_id,
                "status": server.status,
                "task_state": server.task_state,
            }
            for server in self.servers
        ]
        for consumer, resources in sorted(self.allocations.items()):
            if consumer not in server_ids:
                left.append({"allocation_consumer": consumer, "resources": resources})
        return left


def read_host_contents(conn, host: str, provider_id: Optional[str], with_groups: bool = False) -> HostContents:
    groups = server_groups_by_member(conn) if with_groups else {}
    servers = [
        server_view(server, groups)
        for server in servers_on(conn, host)
    ]
    allocations = host_allocations(conn, provider_id) if provider_id else {}
    return HostContents(servers=servers, allocations=allocations)


class HostNotEmpty(MaintenanceError):
    def __init__(self, host: str, contents: HostContents, waited: float) -> None:
        self.host = host
        self.contents = contents
        lines = []
        for item in contents.describe():
            if "allocation_consumer" in item:
                lines.append("placement allocation of consumer %s" % item["allocation_consumer"])
            else:
                lines.append(
                    "server %s (%s) of project %s is %s"
                    % (item["name"], item["id"], item["project_id"], item["status"])
                )
        super().__init__(
            "host %s is not empty after %ss: %s" % (host, int(waited), "; ".join(lines))
        )


def wait_host_empty(
    conn,
    host: str,
    timeout: float,
    poll_interval: float = 5.0,
    provider_id: Optional[str] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> HostContents:
    """Poll the host until it holds no server and no allocation; raise HostNotEmpty on timeout."""
    provider_id = provider_id or provider_id_of(conn, host)
    started = clock()
    while True:
        contents = read_host_contents(conn, host, provider_id)
        if contents.empty:
            return contents
        waited = clock() - started
        if waited >= timeout:
            raise HostNotEmpty(host, contents, waited)
        sleep(poll_interval)
