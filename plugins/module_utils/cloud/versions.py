# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The API microversions the collection needs, and the check that the cloud offers them.

A cloud too old for one of them would fail a run in the middle with an HTTP
error; a run checks them first (``require_floors``), from the version
documents the SDK reads anyway when it opens the compute and Placement
endpoints, and fails before any change naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError


# Microversion 2.53 gives hypervisor UUIDs (equal to Placement resource
# provider UUIDs) and the owning service; 2.88 would add an uptime field that
# costs one RPC to every compute, which a listing of thousands must avoid.
HYPERVISOR_MICROVERSION = "2.53"
# From 2.53 a compute service is addressed by its UUID (PUT /os-services/{service_id}).
SERVICE_MICROVERSION = "2.53"
# From 1.27 provider summaries list every resource class of a provider, not only the requested
# ones; 1.29 (asked for) makes the candidates aware of nested providers.
ALLOCATION_CANDIDATES_MICROVERSION = "1.29"
# GET /resource_providers?required= with forbidden traits (!TRAIT); below the 1.29 floor.
FORBIDDEN_TRAITS_MICROVERSION = "1.22"
# Servers show the availability zone they are pinned to (pinned_availability_zone); used when offered.
PINNED_ZONE_MICROVERSION = "2.96"

Version = Tuple[int, int]
# (lowest, highest) microversion a service offers; either may be unknown.
Offered = Tuple[Optional[Version], Optional[Version]]


@dataclass(frozen=True)
class Floor:
    service: str  # the service type, as the catalog and the SDK's proxies name it
    microversion: str
    needed_for: str
    release: str  # the first OpenStack release whose service offers it


# Named: the health gate needs only these two (``floors_problem``).
FORCED_DOWN_FLOOR = Floor("compute", "2.11", "the forced_down state of compute services", "Liberty")
HYPERVISOR_FLOOR = Floor("compute", HYPERVISOR_MICROVERSION, "hypervisors with their resource provider", "Pike")

FLOORS: Tuple[Floor, ...] = (
    FORCED_DOWN_FLOOR,
    Floor("compute", "2.25", "live migration with block_migration auto", "Mitaka"),
    Floor("compute", "2.47", "servers with their flavor's vCPU, RAM and disk", "Pike"),
    HYPERVISOR_FLOOR,
    Floor("placement", ALLOCATION_CANDIDATES_MICROVERSION,
          "allocation candidates with every resource class of each provider", "Rocky"),
)

# What a run does with a live migration past its timeout (on_timeout) and the progress it logs. The first
# three are below the 2.25 floor, so a cloud that passes require_floors offers them; a module run on its own is
# checked when it first needs one (``floor_problem``). Aborting a migration Nova has not started yet is newer,
# and is needed only when a stuck migration is still queued.
FORCE_COMPLETE_FLOOR = Floor("compute", "2.22", "forcing a live migration to complete", "Mitaka")
PROGRESS_FLOOR = Floor("compute", "2.23", "the progress of a live migration", "Mitaka")
ABORT_FLOOR = Floor("compute", "2.24", "aborting a running live migration", "Mitaka")
ABORT_QUEUED_FLOOR = Floor("compute", "2.65", "aborting a live migration that is queued or preparing", "Rocky")
# The plan's estimate learns from the cloud's latest migrations only where Nova lists them a page at a time.
NEWEST_MIGRATIONS_FLOOR = Floor("compute", "2.59", "the migrations list newest first, a page at a time", "Queens")

# The API's name in a message, and the project that serves it.
SERVICE_NAMES = {"compute": ("compute API", "Nova"), "placement": ("Placement API", "Placement")}


class VersionFloorError(MaintenanceError):
    """The cloud does not offer a microversion the collection needs."""


def parse_version(version: Union[str, Sequence[int]]) -> Version:
    """(major, minor) of ``"2.53"`` or of keystoneauth's already parsed ``(2, 53)``."""
    if isinstance(version, str):
        major, _dot, minor = version.partition(".")
        return int(major), int(minor or 0)
    return int(version[0]), (int(version[1]) if len(version) > 1 else 0)


def version_text(version: Version) -> str:
    return "%d.%d" % version


def offered_range(adapter) -> Optional[Offered]:
    """The microversions the service behind an SDK proxy offers; None without a version document."""
    data = adapter.get_endpoint_data()
    if data is None:
        return None
    low, high = data.min_microversion, data.max_microversion
    return (parse_version(low) if low else None, parse_version(high) if high else None)


def is_offered(microversion: str, offered: Offered) -> bool:
    low, high = offered
    wanted = parse_version(microversion)
    return high is not None and wanted <= high and (low is None or low <= wanted)


def offered_text(offered: Optional[Offered]) -> str:
    if offered is None:
        return "the cloud has no version document for it"
    low, high = offered
    if high is None:
        return "the cloud offers no microversions"
    if low is None:
        return "the cloud offers up to %s" % version_text(high)
    return "the cloud offers %s to %s" % (version_text(low), version_text(high))


def floor_message(service: str, unmet: List[Floor], offered: str) -> str:
    """e.g. "compute API: this collection needs microversion 2.53 (hypervisors with their
    resource provider; Nova of OpenStack Pike or later); the cloud offers 2.1 to 2.52"."""
    api, project = SERVICE_NAMES[service]
    needs = ["%s (%s; %s of OpenStack %s or later)" % (floor.microversion, floor.needed_for, project, floor.release)
             for floor in unmet]
    if len(needs) == 1:
        wanted = "microversion " + needs[0]
    else:
        wanted = "microversions %s and %s" % (", ".join(needs[:-1]), needs[-1])
    return "%s: this collection needs %s; %s" % (api, wanted, offered)


def floors_problem(conn, service: str, floors: List[Floor]) -> Optional[str]:
    """What the service lacks of ``floors``, as a message, or None when it offers them all."""
    # Imported here, as the SDK is (cloud/connection.py): only a module that reads the cloud pays for it.
    from keystoneauth1.exceptions import ClientException

    try:
        offered = offered_range(getattr(conn, service))
    except ClientException as exc:  # discovery failed: no such endpoint in the catalog, endpoint unreachable
        return floor_message(service, floors, "reading the cloud's version document failed: %s" % exc)
    unmet = [floor for floor in floors if offered is None or not is_offered(floor.microversion, offered)]
    return floor_message(service, unmet, offered_text(offered)) if unmet else None


def service_problem(conn, service: str) -> Optional[str]:
    """What the service lacks of FLOORS, as a message, or None when it offers every floor."""
    return floors_problem(conn, service, [floor for floor in FLOORS if floor.service == service])


def floor_problem(conn, floor: Floor) -> Optional[str]:
    """What the cloud lacks to offer one floor, as a message, or None (the SDK caches the version document)."""
    return floors_problem(conn, floor.service, [floor])


def require_floors(conn) -> None:
    """Fail before any change when the cloud lacks a microversion of FLOORS.

    One version document per service: the SDK's discovery caches it, so the
    calls that follow do not read it again.
    """
    problems = [problem for problem in (service_problem(conn, service) for service in SERVICE_NAMES) if problem]
    if problems:
        raise VersionFloorError(". ".join(problems))
