# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The health gate: is a compute host fit to take servers again after its upgrade?

Four built-in checks, each a small function over one read of the host:

- ``nova_compute``: its nova-compute service is ``up`` and not forced down;
- ``heartbeat``: the service reported to Nova after the gate began. Nova calls a
  service ``up`` while its last report is younger than ``service_down_time``
  (60 s by default), so a nova-compute that an upgrade stopped, or that died
  while restarting, still looks ``up`` for a minute; only a new report proves
  it runs. Reports come every ``report_interval`` (10 s by default), which is
  what this check costs at most. The report's time is Nova's and is only
  compared with Nova's earlier one, so clocks need not agree;
- ``hypervisor``: Nova lists the host's hypervisor, and its state is ``up``;
- ``placement``: the host's resource provider (named after the hypervisor
  hostname) has an inventory of VCPU and MEMORY_MB, which the scheduler needs
  to place anything there.

``wait_healthy`` reads the host until every chosen check passes in the same
read, or the timeout is over (``HostNotHealthy``); a progress line is given
each time a check's verdict changes. ``wait_healthy_hosts`` does the same for
the hosts of a batch in one wait.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import utc_now
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import (
    COMPUTE_BINARY,
    find_compute_service,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import (
    hypervisor_of,
    provider_inventories,
    provider_named,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.versions import (
    FORCED_DOWN_FLOOR,
    HYPERVISOR_FLOOR,
    VersionFloorError,
    floors_problem,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError

NOVA_COMPUTE = "nova_compute"
HEARTBEAT = "heartbeat"
HYPERVISOR = "hypervisor"
PLACEMENT = "placement"
# In the order they are judged and named in a failure.
CHECKS = (NOVA_COMPUTE, HEARTBEAT, HYPERVISOR, PLACEMENT)
# The resource classes without which the scheduler places nothing on a compute node.
REQUIRED_RESOURCES = ("VCPU", "MEMORY_MB")


@dataclass(frozen=True)
class ServiceReading:
    state: Optional[str]
    forced_down: bool
    updated_at: Optional[str]  # Nova's time of the service's last report


@dataclass(frozen=True)
class HostReading:
    """One read of what the chosen checks look at; None where it was not read or not found."""
    host: str
    service: Optional[ServiceReading] = None
    hypervisor: Optional[dict] = None
    provider: Optional[dict] = None
    inventories: Optional[Dict[str, dict]] = None


@dataclass(frozen=True)
class Verdict:
    passed: bool
    seen: str


@dataclass
class CheckResult:
    """A check's outcome: ``waited`` is the seconds from the gate's start until it passed, or until the gate ended."""
    name: str
    passed: bool
    seen: str
    waited: float
    passed_at: Optional[str] = None  # when it passed (the journal's time form)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class GateResult:
    host: str
    checks: List[CheckResult]
    waited: float
    progress: List[str]

    @property
    def healthy(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> List[CheckResult]:
        return [check for check in self.checks if not check.passed]


def unhealthy_message(result: GateResult, timeout: float) -> str:
    """Why a host did not pass: each failed check and what it saw."""
    return "%s is not healthy after %ss: %s" % (
        result.host, format_seconds(timeout),
        "; ".join("%s: %s" % (check.name, check.seen) for check in result.failed))


class HostNotHealthy(MaintenanceError):
    """Hosts did not pass their health checks within the timeout; the message names each failed check.

    ``results`` holds every host's gate, the healthy ones too; ``result`` is the first unhealthy one.
    """

    def __init__(self, results: List[GateResult], timeout: float) -> None:
        self.results = results
        self.unhealthy = [result for result in results if not result.healthy]
        self.result = self.unhealthy[0]
        self.failures = {result.host: unhealthy_message(result, timeout) for result in self.unhealthy}
        super().__init__(". ".join(self.failures.values()))


def format_seconds(seconds: float) -> str:
    return ("%d" % seconds) if float(seconds).is_integer() else ("%.1f" % seconds)


def validate_checks(checks: Sequence[str]) -> List[str]:
    """The checks in the order they are judged, each once; ValueError names an unknown one."""
    unknown = [name for name in checks if name not in CHECKS]
    if unknown:
        raise ValueError("checks: %s is not a health check; choose among %s"
                         % (", ".join(unknown), ", ".join(CHECKS)))
    return [name for name in CHECKS if name in checks]


def require_health_floors(conn) -> None:
    """Fail before waiting when Nova lacks the microversions the checks read with."""
    problem = floors_problem(conn, "compute", [FORCED_DOWN_FLOOR, HYPERVISOR_FLOOR])
    if problem:
        raise VersionFloorError(problem)


# Reading the host

def read_service(conn, host: str) -> Optional[ServiceReading]:
    services = [service for service in conn.compute.services(binary=COMPUTE_BINARY, host=host)
                if service.host == host]  # older Nova releases matched host as a prefix
    if not services:
        return None
    service = services[0]
    return ServiceReading(state=service.state, forced_down=bool(service.is_forced_down),
                          updated_at=getattr(service, "updated_at", None))


def read_host(conn, host: str, checks: Sequence[str]) -> HostReading:
    """What ``checks`` look at, read with as few calls as they need."""
    service = read_service(conn, host) if {NOVA_COMPUTE, HEARTBEAT} & set(checks) else None
    hypervisor = hypervisor_of(conn, host) if {HYPERVISOR, PLACEMENT} & set(checks) else None
    provider = inventories = None
    if PLACEMENT in checks and hypervisor is not None:
        provider = provider_named(conn, hypervisor.get("hypervisor_hostname") or host)
        if provider is not None:
            inventories = provider_inventories(conn, provider["uuid"])
    return HostReading(host=host, service=service, hypervisor=hypervisor, provider=provider, inventories=inventories)


# The checks: each judges the current read (and the first, for the heartbeat)

def no_service(host: str) -> Verdict:
    return Verdict(False, "Nova lists no %s service on %s" % (COMPUTE_BINARY, host))


def check_nova_compute(now: HostReading, first: HostReading) -> Verdict:
    service = now.service
    if service is None:
        return no_service(now.host)
    if service.forced_down:
        return Verdict(False, "%s is forced down (state %s); clear forced_down when the host is fit"
                       % (COMPUTE_BINARY, service.state))
    return Verdict(service.state == "up", "%s state %s, not forced down" % (COMPUTE_BINARY, service.state))


def check_heartbeat(now: HostReading, first: HostReading) -> Verdict:
    service = now.service
    if service is None:
        return no_service(now.host)
    before = first.service.updated_at if first.service is not None else None
    if service.updated_at and service.updated_at != before:
        return Verdict(True, "%s reported at %s, after the gate began" % (COMPUTE_BINARY, service.updated_at))
    return Verdict(False, "no report from %s since the gate began (Nova shows state %s; last report %s)"
                   % (COMPUTE_BINARY, service.state, service.updated_at or "never"))


def check_hypervisor(now: HostReading, first: HostReading) -> Verdict:
    hypervisor = now.hypervisor
    if hypervisor is None:
        return Verdict(False, "Nova lists no hypervisor for %s" % now.host)
    return Verdict(hypervisor.get("state") == "up", "hypervisor %s state %s"
                   % (hypervisor.get("hypervisor_hostname"), hypervisor.get("state")))


def check_placement(now: HostReading, first: HostReading) -> Verdict:
    if now.hypervisor is None:
        return Verdict(False, "Nova lists no hypervisor for %s, whose hostname names its resource provider" % now.host)
    name = now.hypervisor.get("hypervisor_hostname") or now.host
    if now.provider is None:
        return Verdict(False, "Placement has no resource provider named %s" % name)
    inventories = now.inventories or {}
    held = ", ".join("%s %s" % (resource_class, inventories[resource_class].get("total"))
                     for resource_class in sorted(inventories)) or "nothing"
    missing = [resource_class for resource_class in REQUIRED_RESOURCES
               if not (inventories.get(resource_class) or {}).get("total")]
    if missing:
        return Verdict(False, "resource provider %s has no %s inventory (it has %s)"
                       % (name, " or ".join(missing), held))
    return Verdict(True, "resource provider %s has %s" % (name, held))


JUDGES: Dict[str, Callable[[HostReading, HostReading], Verdict]] = {
    NOVA_COMPUTE: check_nova_compute,
    HEARTBEAT: check_heartbeat,
    HYPERVISOR: check_hypervisor,
    PLACEMENT: check_placement,
}


def judge(checks: Sequence[str], now: HostReading, first: HostReading) -> Dict[str, Verdict]:
    return {name: JUDGES[name](now, first) for name in checks}


# Waiting

# Called with the host, a progress line and the check's result when a check's verdict changes.
Progress = Callable[[str, str, CheckResult], None]


@dataclass
class Gate:
    """One host's gate while it is waited on: its first read, each check's latest verdict, the progress lines."""
    host: str
    checks: List[str]
    first: Optional[HostReading] = None
    results: Dict[str, CheckResult] = field(default_factory=dict)
    lines: List[str] = field(default_factory=list)

    def observe(self, reading: HostReading, waited: float, progress: Optional[Progress]) -> GateResult:
        if self.first is None:
            self.first = reading
        for name, verdict in judge(self.checks, reading, self.first).items():
            line = record_verdict(self.results, name, verdict, waited)
            if line is not None:
                self.lines.append("%s: %s" % (self.host, line))
                if progress is not None:
                    progress(self.host, self.lines[-1], self.results[name])
        return GateResult(self.host, [self.results[name] for name in self.checks], round(waited, 1), self.lines)


def wait_healthy(
    conn,
    host: str,
    checks: Sequence[str] = CHECKS,
    timeout: float = 300,
    poll_interval: float = 3,
    progress: Optional[Progress] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> GateResult:
    """Read the host until every check of ``checks`` passes in one read; HostNotHealthy at the timeout.

    A host without a nova-compute service fails at once (HostNotFound): no
    waiting makes it appear. ``progress`` gets the host, a line and the check's
    result each time a check's verdict changes (and at each check's first verdict).
    """
    return wait_healthy_hosts(conn, [host], checks, timeout, poll_interval, progress, clock, sleep)[0]


def wait_healthy_hosts(
    conn,
    hosts: Sequence[str],
    checks: Sequence[str] = CHECKS,
    timeout: float = 300,
    poll_interval: float = 3,
    progress: Optional[Progress] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> List[GateResult]:
    """The gates of several hosts in one wait, in the order of ``hosts``: a host that passed is read no more.

    HostNotHealthy at the timeout carries every host's gate and names each host that did not pass.
    """
    checks = validate_checks(checks)
    for host in hosts:
        find_compute_service(conn, host)
    started = clock()
    gates = {host: Gate(host, checks) for host in hosts}
    last: Dict[str, GateResult] = {}
    while True:
        for host in hosts:
            if host not in last or not last[host].healthy:
                last[host] = gates[host].observe(read_host(conn, host, checks), clock() - started, progress)
        results = [last[host] for host in hosts]
        if all(result.healthy for result in results):
            return results
        waited = clock() - started
        if waited >= timeout:
            raise HostNotHealthy(results, timeout)
        # The last read falls on the timeout, not a poll interval after it.
        sleep(min(poll_interval, timeout - waited))


def record_verdict(results: Dict[str, CheckResult], name: str, verdict: Verdict, waited: float) -> Optional[str]:
    """Keep a check's latest verdict; the progress line when its verdict changed (None when it did not)."""
    earlier = results.get(name)
    changed = earlier is None or earlier.passed != verdict.passed
    if verdict.passed and changed:
        results[name] = CheckResult(name, True, verdict.seen, round(waited, 1), utc_now())
    elif verdict.passed:
        earlier.seen = verdict.seen
    else:
        results[name] = CheckResult(name, False, verdict.seen, round(waited, 1))
    if not changed:
        return None
    return "%s %s after %s s: %s" % (name, "passed" if verdict.passed else "not passed",
                                     format_seconds(round(waited, 1)), verdict.seen)
