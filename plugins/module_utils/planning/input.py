# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The planner's CloudModel read from the cloud with list calls only.

Requests do not grow with servers, and grow with hosts only for full hosts:

* one nova-compute service list (state, enabled, availability zone);
* one hypervisor list at microversion 2.53 (the Placement provider of each host);
* one Placement ``GET /allocation_candidates?resources=VCPU:1``, whose provider
  summaries give every provider's capacity (reserved and allocation ratio applied)
  and usage per resource class in a single response. A provider with no free
  vCPU is not a candidate, so only those full hosts are read one by one
  (inventories and usages, as compute_host_info does);
* one server list of all projects (flavors embedded at microversion >= 2.47); for one batch
  (``servers_of``), one server list per batch host and one read per other member of the groups
  of their servers (where a group's rules may forbid a target), so a batch's reads grow with the
  batch, not with the cloud;
* one server group list and one aggregate list;
* one Placement ``GET /resource_providers?required=...`` per distinct set of flavor traits
  (planning/requirements.py), none when no flavor asks for a trait.
"""

from __future__ import annotations

import math
from typing import Collection, Dict, Iterable, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import (
    COMPUTE_BINARY,
    ServiceState,
    service_state,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.parallel import call_each
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import (
    group_policy,
    list_hypervisors,
    list_servers,
    read_resources,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.versions import (
    ALLOCATION_CANDIDATES_MICROVERSION,
    PINNED_ZONE_MICROVERSION,
    is_offered,
    offered_range,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.requirements import (
    hosts_meeting,
    requirements_of,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import (
    RESOURCES,
    CloudModel,
    HostModel,
    ServerModel,
)


def placement_summaries(conn) -> Dict[str, dict]:
    """Provider UUID -> {resource class: {capacity, used}} for every provider with a free vCPU."""
    response = conn.placement.get("/allocation_candidates?resources=VCPU:1",
                                  microversion=ALLOCATION_CANDIDATES_MICROVERSION)
    body = response.json()
    return {
        provider: summary.get("resources", {})
        for provider, summary in (body.get("provider_summaries") or {}).items()
    }


def provider_resources(conn, provider_ids: Iterable[Optional[str]], summaries: Dict[str, dict]) -> Dict[str, dict]:
    """Capacity and usage of each provider, from the summaries or, for a full host (no free vCPU, so no
    allocation candidate), from its own Placement reads, the full hosts read together."""
    full = sorted({provider for provider in provider_ids if provider and provider not in summaries})
    resources = dict(summaries)
    resources.update(zip(full, call_each(lambda provider: read_resources(conn, provider), full)))
    return resources


def flavor_dict(flavor) -> dict:
    """A server's embedded flavor as a dict (the SDK gives an object, the unit tests' fakes a dict)."""
    if flavor is None:
        return {}
    return flavor if isinstance(flavor, dict) else flavor.to_dict(computed=False)


def flavor_need(flavor) -> tuple:
    """(vCPU, RAM MB, disk GB) a server holds in Placement, from its embedded flavor.

    Disk counts root, ephemeral and swap (rounded up to GB), as Nova claims it
    for a server on local disk; a volume-backed server claims less, so the
    plan errs on the safe side.
    """
    flavor = flavor_dict(flavor)
    ephemeral = flavor.get("ephemeral") or flavor.get("OS-FLV-EXT-DATA:ephemeral") or 0
    swap = flavor.get("swap") or 0
    swap_gb = int(math.ceil(int(swap) / 1024.0)) if swap else 0
    return (int(flavor.get("vcpus") or 0), int(flavor.get("ram") or 0),
            int(flavor.get("disk") or 0) + int(ephemeral) + swap_gb)


def batch_servers(conn, hosts: Collection[str], members: Dict[str, List[str]], instances: List[dict]) -> list:
    """The servers of ``hosts``, and the other members of their groups (Nova's and the sessions'), wherever they are.

    ``members``: each Nova server group's member ids. Nova's server list filters on one ``uuid`` only,
    so each other member costs a request: they are few (a group is an application's, not the cloud's).
    """
    servers = list_servers(conn, sorted(hosts))
    read = {server.id for server in servers}
    # Each group's members: Nova's server groups, and the session's instance groups from the constraints.
    groups = list(members.values())
    constraint_members: Dict[str, List[str]] = {}
    for body in instances:
        if body.get("group_id"):
            constraint_members.setdefault(body["group_id"], []).append(body["instance_id"])
    groups += constraint_members.values()
    others = sorted({member for member_ids in groups if not read.isdisjoint(member_ids) for member in member_ids}
                    - read)
    for found in call_each(lambda member: list(conn.compute.servers(details=True, all_projects=True, id=member)),
                           others):
        servers.extend(found)  # [] once deleted
    return servers


def read_cloud_model(conn, instance_groups: Iterable[dict] = (), instances: Iterable[dict] = (),
                     session_id: Optional[str] = None, recorded: Iterable[str] = (),
                     servers_of: Optional[Collection[str]] = None) -> CloudModel:
    """Every nova-compute host with capacity, the servers, the server groups, and the constraints.

    A host counts as disabled by us when the session ``session_id`` owns its disable (its reason
    names the session, or names none and ``recorded``, the session's journal, lists the host);
    planning without a session, when this collection disabled it without one.

    ``servers_of``: the hosts of the one batch to plan; only their servers, and the other members of
    those servers' groups, are read (the model's ``servers_complete`` is False). None: every server.
    """
    recorded = set(recorded)
    instances = list(instances)
    # The cloud-wide lists do not depend on one another: read together, they cost the time of the slowest.
    service_list, hypervisors, summaries, aggregate_list, group_list = call_each(lambda read: read(), [
        lambda: list(conn.compute.services(binary=COMPUTE_BINARY)),
        lambda: list_hypervisors(conn),
        lambda: placement_summaries(conn),
        lambda: list(conn.compute.aggregates()),
        lambda: list(conn.compute.server_groups(all_projects=True)),
    ])
    services = {service.host: service for service in service_list}
    aggregates: Dict[str, list] = {}
    aggregate_metadata: Dict[str, list] = {}
    for aggregate in aggregate_list:
        for host in aggregate.hosts or []:
            aggregates.setdefault(host, []).append(aggregate.name)
            aggregate_metadata.setdefault(host, []).append(aggregate.metadata or {})
    provider_of = {name: (hypervisors.get(name) or {}).get("id") for name in services}
    resources_of = provider_resources(conn, provider_of.values(), summaries)
    hosts: Dict[str, HostModel] = {}
    for name, service in sorted(services.items()):
        resources = resources_of.get(provider_of[name]) or {}
        hosts[name] = HostModel(
            name=name,
            availability_zone=getattr(service, "availability_zone", None),
            aggregates=tuple(sorted(aggregates.get(name, ()))),
            # A host without a resource provider has no capacity: it is never a target. A class the
            # provider has no inventory of (disk on shared storage) is left out: it does not limit.
            capacity={rc: int(resources[rc]["capacity"]) for rc in RESOURCES if rc in resources}
            if resources else {rc: 0 for rc in RESOURCES},
            used={rc: int(resources.get(rc, {}).get("used", 0)) for rc in RESOURCES},
            enabled=service.status == "enabled",
            up=service.state == "up" and not service.is_forced_down,
            disabled_by_us=service_state(service).owned_by(session_id, name in recorded),
            disabled_reason=service.disabled_reason if service.status == "disabled" else None,
        )
    groups, group_names, members = {}, {}, {}
    for group in group_list:
        policy = group_policy(group)
        group_names[group.id] = group.name
        members[group.id] = list(group.member_ids or [])
        for member in members[group.id]:
            groups[member] = (group.id, policy)
    servers = []
    zoned = len({host.availability_zone for host in hosts.values()}) > 1
    pinned_known = zoned and is_offered(PINNED_ZONE_MICROVERSION, offered_range(conn.compute) or (None, None))
    read = (conn.compute.servers(details=True, all_projects=True) if servers_of is None
            else batch_servers(conn, servers_of, members, instances))
    for server in read:
        if server.compute_host not in hosts:
            continue  # not on a compute host (shelved, or never scheduled)
        flavor = flavor_dict(server.flavor)
        vcpus, ram, disk = flavor_need(flavor)
        group_id, policy = groups.get(server.id, (None, None))
        # Without 2.96 whether Nova holds the server to its zone is unknown: it is held to it, which is safe.
        zone = (server.pinned_availability_zone if pinned_known else server.availability_zone) if zoned else None
        requirements, unmodelled = requirements_of(flavor.get("extra_specs") or {}, zone)
        servers.append(ServerModel(
            id=server.id, name=server.name, project_id=server.project_id, host=server.compute_host,
            status=server.status, vcpus=vcpus, ram_mb=ram, disk_gb=disk, group_id=group_id, group_policy=policy,
            requirements=requirements, unmodelled=unmodelled,
        ))
    allowed = hosts_meeting(conn, (server.requirements for server in servers),
                            {name: host.availability_zone for name, host in hosts.items()}, aggregate_metadata,
                            {name: (hypervisors.get(name) or {}).get("id") for name in hosts})
    model = CloudModel(hosts=hosts, servers=servers, group_names=group_names, allowed_hosts=allowed,
                       servers_complete=servers_of is None)
    return model.with_constraints(instance_groups, instances)


def host_states(model: CloudModel) -> List[ServiceState]:
    """The compute services as the model read them, for choosing the hosts to maintain."""
    return [ServiceState(host=host.name, status="enabled" if host.enabled else "disabled",
                         disabled_reason=host.disabled_reason, forced_down=not host.up)
            for host in model.hosts.values()]
