# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Compute hosts as inventory records, read with three list calls.

One service list, one hypervisor list (paginated by Nova past its
``max_limit``) and one aggregate list, whatever the number of hosts and
servers: an inventory is read on every playbook start, so it must stay cheap
on a cloud with thousands of hosts. The records are plain JSON-able dicts so
that an inventory cache can keep them as they are.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Dict, Iterable, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import (
    COMPUTE_BINARY,
    service_state,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import hypervisor_details

# The hypervisor fields reported as usage: name -> (used field, total field).
USAGE_FIELDS = {
    "vcpus": ("vcpus_used", "vcpus"),
    "memory_mb": ("memory_mb_used", "memory_mb"),
    "local_gb": ("local_gb_used", "local_gb"),
}

# Groups every record may land in, besides az_<zone> and aggregate_<name>.
PARENT_GROUP = "compute_hosts"
ENABLED_GROUP = "compute_enabled"
DISABLED_GROUP = "compute_disabled"
DOWN_GROUP = "compute_down"
MAINTENANCE_GROUP = "maintenance_disabled"
AZ_PREFIX = "az_"
AGGREGATE_PREFIX = "aggregate_"


def read_compute_hosts(conn) -> List[dict]:
    """Every nova-compute host of the cloud as a record, sorted by host name."""
    services = list(conn.compute.services(binary=COMPUTE_BINARY))
    hypervisors = hypervisor_details(conn)
    aggregates = aggregates_by_host(conn.compute.aggregates())
    records = [
        host_record(service, hypervisors.get(service.host), aggregates.get(service.host, []))
        for service in services
        # Older Nova releases ignore the binary filter of a service listing.
        if getattr(service, "binary", COMPUTE_BINARY) == COMPUTE_BINARY
    ]
    return sorted(records, key=lambda record: record["host"])


def aggregates_by_host(aggregates: Iterable) -> Dict[str, List[dict]]:
    """Host -> the aggregates holding it, each as {name, availability_zone}."""
    by_host: Dict[str, List[dict]] = {}
    for aggregate in aggregates:
        for host in aggregate.hosts or []:
            by_host.setdefault(host, []).append(
                {"name": aggregate.name, "availability_zone": aggregate.availability_zone}
            )
    for entries in by_host.values():
        entries.sort(key=lambda entry: entry["name"])
    return by_host


def host_record(service, hypervisor: Optional[dict], aggregates: List[dict]) -> dict:
    """What the inventory knows of one host (the ``fenix_compute`` host variable)."""
    state = service_state(service)
    hypervisor = hypervisor or {}
    return {
        "host": state.host,
        "service_id": state.id,
        "status": state.status,
        "state": state.state,
        "disabled_reason": state.disabled_reason,
        "disabled_by_us": state.disabled_by_us,
        "forced_down": state.forced_down,
        "availability_zone": state.availability_zone or aggregate_zone(aggregates),
        "aggregates": [entry["name"] for entry in aggregates],
        "hypervisor_id": hypervisor.get("id"),
        "hypervisor_hostname": hypervisor.get("hypervisor_hostname"),
        "hypervisor_state": hypervisor.get("state"),
        "hypervisor_status": hypervisor.get("status"),
        "host_ip": hypervisor.get("host_ip"),
        # Nova's count of the instances on the host (running or not): the
        # number of servers a drain has to move.
        "server_count": hypervisor.get("running_vms"),
        "usage": usage(hypervisor),
    }


def aggregate_zone(aggregates: List[dict]) -> Optional[str]:
    """The zone an aggregate gives the host, for a service listing without one."""
    zones = sorted({entry["availability_zone"] for entry in aggregates if entry["availability_zone"]})
    return zones[0] if zones else None


def usage(hypervisor: dict) -> Dict[str, dict]:
    """Used and total per resource as the hypervisor reports them (no allocation ratios)."""
    return {
        name: {"used": hypervisor.get(used_field), "total": hypervisor.get(total_field)}
        for name, (used_field, total_field) in USAGE_FIELDS.items()
        if total_field in hypervisor
    }


def select_hosts(records: List[dict], patterns: Optional[List[str]]) -> List[dict]:
    """The records whose host matches one of the shell-style ``patterns`` (all without).

    Raises LookupError naming a pattern that matches no host: a typo would
    otherwise give an empty group and a play that silently does nothing.
    """
    if not patterns:
        return records
    unmatched = [pattern for pattern in patterns if not any(fnmatchcase(record["host"], pattern) for record in records)]
    if unmatched:
        raise LookupError(
            "hosts: %s matches no %s host; known hosts: %s"
            % (", ".join(unmatched), COMPUTE_BINARY, ", ".join(record["host"] for record in records) or "none")
        )
    return [record for record in records if any(fnmatchcase(record["host"], pattern) for pattern in patterns)]


def group_names(record: dict) -> List[str]:
    """The groups of a host, before Ansible's group name sanitation."""
    groups = [ENABLED_GROUP if record["status"] == "enabled" else DISABLED_GROUP]
    if record["state"] == "down":
        groups.append(DOWN_GROUP)
    if record["disabled_by_us"]:
        groups.append(MAINTENANCE_GROUP)
    if record["availability_zone"]:
        groups.append(AZ_PREFIX + record["availability_zone"])
    groups.extend(AGGREGATE_PREFIX + name for name in record["aggregates"])
    return groups
