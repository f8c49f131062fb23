# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Read compute hosts, their capacity and their servers with few list calls.

The number of API requests depends on the number of hosts asked for, never on
the number of servers: one service list, one hypervisor list, one server group
list, one project list, one server list (per selected host, or one for the
whole cloud), and two Placement reads per selected host.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Optional
from urllib.parse import urlencode

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import (
    COMPUTE_BINARY,
    HostNotFound,
    ServiceState,
    service_state,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.parallel import call_each
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.versions import HYPERVISOR_MICROVERSION


@dataclass
class ServerView:
    id: str
    name: str
    project_id: str
    status: str
    task_state: Optional[str]
    host: Optional[str]
    host_id: Optional[str]
    flavor: dict
    server_group: Optional[dict] = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class HostView:
    host: str
    service: ServiceState
    hypervisor: Optional[dict] = None
    resources: Dict[str, dict] = field(default_factory=dict)
    servers: List[ServerView] = field(default_factory=list)

    def as_dict(self, project_names: Optional[Dict[str, str]] = None) -> dict:
        return {
            "host": self.host,
            "service": self.service.as_dict(),
            "hypervisor": self.hypervisor,
            "resources": self.resources,
            "server_count": len(self.servers),
            "projects": group_by_project(self.servers, project_names or {}),
        }


def group_by_project(servers: Iterable[ServerView], project_names: Dict[str, str]) -> List[dict]:
    projects: Dict[str, dict] = {}
    for server in servers:
        entry = projects.setdefault(
            server.project_id,
            {
                "project_id": server.project_id,
                "project_name": project_names.get(server.project_id),
                "servers": [],
            },
        )
        entry["servers"].append(server.as_dict())
    return sorted(projects.values(), key=lambda entry: entry["project_id"])


def server_view(server, groups_by_member: Dict[str, dict]) -> ServerView:
    flavor = server.flavor or {}
    if not isinstance(flavor, dict):
        flavor = flavor.to_dict(computed=False)
    return ServerView(
        id=server.id,
        name=server.name,
        project_id=server.project_id,
        status=server.status,
        task_state=server.task_state,
        host=server.compute_host,
        host_id=server.host_id,
        flavor={
            "name": flavor.get("original_name") or flavor.get("name"),
            "vcpus": flavor.get("vcpus"),
            "ram": flavor.get("ram"),
            "disk": flavor.get("disk"),
        },
        server_group=groups_by_member.get(server.id),
    )


def list_paginated(adapter, url: str, key: str, **kwargs) -> List[dict]:
    """All items of a Nova-style paginated list (``<key>_links`` next)."""
    items: List[dict] = []
    while url:
        body = adapter.get(url, **kwargs).json()
        items.extend(body.get(key, []))
        url = next(
            (link["href"] for link in body.get(key + "_links", []) if link.get("rel") == "next"),
            None,
        )
    return items


def hypervisor_details(conn, hostname_pattern: Optional[str] = None) -> Dict[str, dict]:
    """Nova's full hypervisor records (microversion 2.53: usage, running_vms,
    host_ip) by the host of their nova-compute service.

    ``hostname_pattern`` narrows the listing on Nova's side (a substring of
    the hypervisor hostname) when only one host is wanted.
    """
    url = "/os-hypervisors/detail"
    if hostname_pattern:
        url += "?" + urlencode({"hypervisor_hostname_pattern": hostname_pattern})
    hypervisors = list_paginated(conn.compute, url, "hypervisors", microversion=HYPERVISOR_MICROVERSION)
    by_host: Dict[str, dict] = {}
    for hyp in hypervisors:
        host = (hyp.get("service") or {}).get("host")
        if host:
            by_host[host] = hyp
    return by_host


def list_hypervisors(conn, hostname_pattern: Optional[str] = None) -> Dict[str, dict]:
    """Hypervisors by the host of their nova-compute service (identity and state only)."""
    return {
        host: {
            "id": hyp["id"],
            "hypervisor_hostname": hyp.get("hypervisor_hostname"),
            "state": hyp.get("state"),
            "status": hyp.get("status"),
        }
        for host, hyp in hypervisor_details(conn, hostname_pattern).items()
    }


def read_resources(conn, provider_id: str) -> Dict[str, dict]:
    """Placement inventory and usage of one resource provider, per resource class."""
    inventories = provider_inventories(conn, provider_id)
    usages = conn.placement.get("/resource_providers/%s/usages" % provider_id).json()
    return resources_from_placement(inventories, usages.get("usages", {}))


def provider_inventories(conn, provider_id: str) -> Dict[str, dict]:
    """Placement's inventory of one resource provider: resource class -> {total, reserved, allocation_ratio, ...}."""
    return conn.placement.get("/resource_providers/%s/inventories" % provider_id).json().get("inventories", {})


def provider_named(conn, name: str) -> Optional[dict]:
    """The Placement resource provider of that name ({uuid, name, generation, ...}), or None.

    Nova names a compute node's provider after its hypervisor hostname.
    """
    body = conn.placement.get("/resource_providers?" + urlencode({"name": name})).json()
    providers = body.get("resource_providers", [])
    return providers[0] if providers else None


def resources_from_placement(inventories: dict, usages: dict) -> Dict[str, dict]:
    resources = {}
    for resource_class, inventory in inventories.items():
        capacity = int((inventory["total"] - inventory.get("reserved", 0)) * inventory.get("allocation_ratio", 1.0))
        used = usages.get(resource_class, 0)
        resources[resource_class] = {
            "total": inventory["total"],
            "reserved": inventory.get("reserved", 0),
            "allocation_ratio": inventory.get("allocation_ratio", 1.0),
            "capacity": capacity,
            "used": used,
            "free": capacity - used,
        }
    return resources


def group_policy(group) -> Optional[str]:
    """A Nova server group's policy: ``policy`` from microversion 2.64, the first of ``policies`` before."""
    return group.policy or (group.policies[0] if group.policies else None)


def server_groups_by_member(conn) -> Dict[str, dict]:
    by_member: Dict[str, dict] = {}
    for group in conn.compute.server_groups(all_projects=True):
        policy = group_policy(group)
        for member in group.member_ids or []:
            by_member[member] = {"id": group.id, "name": group.name, "policy": policy}
    return by_member


def project_names(conn) -> Dict[str, str]:
    try:
        return {project.id: project.name for project in conn.identity.projects()}
    except Exception:  # pylint: disable=broad-except
        # Names are a courtesy: a cloud that hides projects from this user still works.
        return {}


def servers_on(conn, host: str) -> list:
    """The servers of one host, every project's (GET /servers/detail?all_tenants=1&host=...)."""
    return list(conn.compute.servers(details=True, all_projects=True, compute_host=host))


def list_servers(conn, hosts: Optional[List[str]]) -> list:
    """The servers of ``hosts`` (Nova filters on one host: a list call per host, read together), or of the cloud."""
    if hosts is None:
        return list(conn.compute.servers(details=True, all_projects=True))
    return [server for servers in call_each(lambda host: servers_on(conn, host), hosts) for server in servers]


def read_hosts(
    conn,
    hosts: Optional[List[str]] = None,
    with_servers: bool = True,
    with_resources: bool = True,
) -> List[HostView]:
    """Compute hosts (all, or those named) with capacity and servers.

    Raises HostNotFound (a LookupError) naming hosts that run no nova-compute service.
    """
    services = {svc.host: svc for svc in conn.compute.services(binary=COMPUTE_BINARY)}
    if hosts is not None:
        unknown = sorted(set(hosts) - set(services))
        if unknown:
            raise HostNotFound(
                "hosts: no %s service on %s; known hosts: %s"
                % (COMPUTE_BINARY, ", ".join(unknown), ", ".join(sorted(services)) or "none")
            )
    selected = sorted(services) if hosts is None else sorted(set(hosts))
    hypervisors = list_hypervisors(conn)
    views = {
        host: HostView(host=host, service=service_state(services[host]), hypervisor=hypervisors.get(host))
        for host in selected
    }
    if with_resources:
        fill_resources(conn, views.values())
    if with_servers:
        groups = server_groups_by_member(conn)
        for server in list_servers(conn, hosts):
            view = views.get(server.compute_host)
            if view is not None:
                view.servers.append(server_view(server, groups))
    return [views[host] for host in selected]


def fill_resources(conn, views: Iterable[HostView]) -> None:
    with_provider = [view for view in views if view.hypervisor]
    for view, resources in zip(with_provider, call_each(lambda view: read_resources(conn, view.hypervisor["id"]),
                                                        with_provider)):
        view.resources = resources


def host_allocations(conn, provider_id: str) -> Dict[str, dict]:
    """Placement allocations on a host: consumer UUID -> resources."""
    body = conn.placement.get("/resource_providers/%s/allocations" % provider_id).json()
    return {consumer: data.get("resources", {}) for consumer, data in body.get("allocations", {}).items()}


def hypervisor_of(conn, host: str) -> Optional[dict]:
    """The hypervisor of one host (identity and state, as list_hypervisors gives it), or None."""
    hypervisor = list_hypervisors(conn, hostname_pattern=host).get(host)
    if hypervisor is None:
        # The hypervisor hostname need not contain the service host name.
        hypervisor = list_hypervisors(conn).get(host)
    return hypervisor


def provider_id_of(conn, host: str) -> Optional[str]:
    """The Placement resource provider of a host (its hypervisor UUID)."""
    return (hypervisor_of(conn, host) or {}).get("id")
