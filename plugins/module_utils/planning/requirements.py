# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""What a server needs of its target besides room, as Nova's scheduler checks it, and the hosts that meet it.

A planned target Nova would refuse costs a "No valid host" and a retry: the planner names only hosts that
meet the server's needs.

* Its flavor's traits (``trait:CUSTOM_X=required`` or ``forbidden``): Placement lists the resource
  providers that have (and lack) them, one request per distinct set of traits, not per server.
* Its availability zone, when the server is pinned to one (Nova 2.96 ``pinned_availability_zone``: booted
  into it, or by ``default_schedule_zone``); without 2.96, its current zone, which Nova may hold it to.
* Its flavor's ``aggregate_instance_extra_specs:KEY=VALUE`` (AggregateInstanceExtraSpecsFilter): a host
  of an aggregate whose metadata KEY holds VALUE (a comma-separated list of values allows each).

Zones and aggregate metadata come from the service and aggregate lists the model reads anyway. Room is the
planner's own count (it moves servers around as it plans), so Placement is not asked about capacity here.

A flavor extra spec the planner does not understand (PCI devices, CPU pinning, NUMA, huge pages, custom
resource classes, anything not listed below) makes the server one it cannot model: it is moved without a
named target, the scheduler chooses, and the plan says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, Mapping, Optional, Tuple

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.versions import FORBIDDEN_TRAITS_MICROVERSION

TRAIT_PREFIX = "trait:"
AGGREGATE_PREFIX = "aggregate_instance_extra_specs:"
# Extra specs that shape the guest, not where it may run: a server with only these needs any host.
NEUTRAL_SPECS = ("quota:", "hw_rng:", "hw_video:", "hw:watchdog_action", "hw:boot_menu", "hw:cpu_sockets",
                 "hw:cpu_cores", "hw:cpu_threads", "hw:cpu_max_sockets", "hw:cpu_max_cores", "hw:cpu_max_threads",
                 "hw:vif_multiqueue_enabled", "hw:hide_hypervisor_id", "hw:serial_port_count")


@dataclass(frozen=True)
class Requirements:
    """What a target must offer: traits it has and lacks, the zone, the aggregate metadata."""

    required_traits: Tuple[str, ...] = ()
    forbidden_traits: Tuple[str, ...] = ()
    zone: Optional[str] = None
    aggregate_specs: Tuple[Tuple[str, str], ...] = ()

    @property
    def any_host(self) -> bool:
        return not (self.required_traits or self.forbidden_traits or self.zone or self.aggregate_specs)

    def describe(self) -> str:
        parts = ["traits %s" % ", ".join(self.required_traits)] if self.required_traits else []
        parts += ["none of the traits %s" % ", ".join(self.forbidden_traits)] if self.forbidden_traits else []
        parts += ["zone %s" % self.zone] if self.zone else []
        parts += ["aggregate metadata %s" % ", ".join("%s=%s" % spec for spec in self.aggregate_specs)
                  ] if self.aggregate_specs else []
        return "; ".join(parts) or "any host"


ANY_HOST = Requirements()


def requirements_of(extra_specs: Mapping[str, str], zone: Optional[str]) -> Tuple[Requirements, Optional[str]]:
    """A server's requirements from its flavor's extra specs and its pinned zone, and why the planner cannot
    model it (None when it can)."""
    required, forbidden, aggregate = [], [], []
    for key, value in sorted((extra_specs or {}).items()):
        value = str(value).strip()
        if key.startswith(TRAIT_PREFIX) and value in ("required", "forbidden"):
            (required if value == "required" else forbidden).append(key[len(TRAIT_PREFIX):])
        elif key.startswith(AGGREGATE_PREFIX):
            aggregate.append((key[len(AGGREGATE_PREFIX):], value))
        elif not key.startswith(NEUTRAL_SPECS):
            return ANY_HOST, "its flavor's extra spec %s=%s is not one the planner models" % (key, value)
    return Requirements(tuple(required), tuple(forbidden), zone or None, tuple(aggregate)), None


def aggregate_allows(specs: Iterable[Tuple[str, str]], metadata: Iterable[Mapping[str, str]]) -> bool:
    """Whether a host whose aggregates have ``metadata`` passes AggregateInstanceExtraSpecsFilter for ``specs``."""
    metadata = list(metadata)
    for key, wanted in specs:
        offered = {value.strip() for meta in metadata if key in meta for value in str(meta[key]).split(",")}
        if wanted not in offered:
            return False
    return True


def providers_with_traits(conn, required: Iterable[str], forbidden: Iterable[str]) -> FrozenSet[str]:
    """The Placement resource providers (UUIDs) that have every ``required`` trait and no ``forbidden`` one."""
    wanted = ",".join(list(required) + ["!" + trait for trait in forbidden])
    response = conn.placement.get("/resource_providers?required=%s" % wanted,
                                  microversion=FORBIDDEN_TRAITS_MICROVERSION)
    return frozenset(provider["uuid"] for provider in response.json().get("resource_providers", []))


def hosts_meeting(conn, needs: Iterable[Requirements], zones: Mapping[str, Optional[str]],
                  aggregate_metadata: Mapping[str, list], providers: Mapping[str, Optional[str]]
                  ) -> Dict[Requirements, FrozenSet[str]]:
    """The hosts that meet each distinct requirement.

    ``zones``: host -> availability zone; ``aggregate_metadata``: host -> the metadata of each of its
    aggregates; ``providers``: host -> its Placement resource provider UUID. One Placement request per
    distinct set of traits.
    """
    by_traits: Dict[Tuple[Tuple[str, ...], Tuple[str, ...]], FrozenSet[str]] = {}
    met: Dict[Requirements, FrozenSet[str]] = {}
    for need in set(needs):
        if need.any_host:
            continue
        hosts = set(zones)
        if need.zone:
            hosts = {host for host in hosts if zones[host] == need.zone}
        if need.aggregate_specs:
            hosts = {host for host in hosts if aggregate_allows(need.aggregate_specs, aggregate_metadata.get(host, ()))}
        if need.required_traits or need.forbidden_traits:
            key = (need.required_traits, need.forbidden_traits)
            if key not in by_traits:
                by_traits[key] = providers_with_traits(conn, *key)
            hosts = {host for host in hosts if providers.get(host) in by_traits[key]}
        met[need] = frozenset(hosts)
    return met
