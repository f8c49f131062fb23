#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: compute_host_health
short_description: Wait until a compute host is fit to take servers again
version_added: 0.2.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - The health gate of a rolling maintenance, after a host's upgrade plugins and before it is enabled again.
    Reads the host until every check of O(checks) passes in the same read, or fails when O(timeout) is over,
    naming each check that did not pass and what it saw.
  - V(nova_compute) - the host's nova-compute service is C(up) and not forced down.
  - V(heartbeat) - the service reported to Nova after the module began. Nova calls a service C(up) while its
    last report is younger than its C(service_down_time) (60 s by default), so a nova-compute that stopped or
    died while restarting still looks C(up) for that long; a new report proves it runs. Reports come every
    C(report_interval) of Nova (10 s by default), which is the longest this check waits on a healthy host.
  - V(hypervisor) - Nova lists the host's hypervisor and its state is C(up).
  - V(placement) - the host's resource provider in Placement (named after its hypervisor hostname) has an
    inventory of C(VCPU) and C(MEMORY_MB), without which the scheduler places nothing there.
  - Site checks of your own (the new package version is installed, a service of yours runs) are upgrade
    plugins of type C(check), which the role runs on the host after this module passes
    (M(fenix.maintenance.upgrade_plugins) with O(fenix.maintenance.upgrade_plugins#module:type=check)).
  - A host without a nova-compute service fails at once.
  - With O(hosts), the hosts of a batch are gated in one wait; a host that passed is read no more, and the module
    fails at the timeout naming each host that did not pass (RV(failures)), while RV(results) still shows the
    hosts that did.
options:
  host:
    description:
      - The compute host, as Nova names it.
      - Exactly one of O(host) and O(hosts) is required.
    type: str
  hosts:
    description:
      - Several compute hosts, as Nova names them, gated together within one O(timeout).
      - Exactly one of O(host) and O(hosts) is required.
    type: list
    elements: str
    version_added: 0.2.0
  checks:
    description:
      - The checks to pass, among V(nova_compute), V(heartbeat), V(hypervisor) and V(placement); all by default.
      - An empty list checks nothing (the module passes at once).
    type: list
    elements: str
    choices: [nova_compute, heartbeat, hypervisor, placement]
    default: [nova_compute, heartbeat, hypervisor, placement]
  timeout:
    description:
      - Seconds to wait for the host to pass every check. With V(heartbeat), leave at least Nova's
        C(report_interval) (10 s by default).
    type: int
    default: 300
  poll_interval:
    description:
      - Seconds between two reads of the host.
    type: float
    default: 3
  session_id:
    description:
      - Record the gate in this maintenance session's journal - an event C(host.health_check) each time a check's
        verdict changes (so the wait can be followed while it lasts) and C(host.healthy) or C(host.unhealthy) at
        the end, with every check and the time waited.
      - The session must exist in the journal. Nothing is written in check mode.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.openstack
  - fenix.maintenance.journal
  - fenix.maintenance.openstack.SESSION_ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: all
  check_mode:
    support: full
    details: The module only reads the cloud, so it waits and fails in check mode as in a real run.
  diff_mode:
    support: none
notes:
  - The module never changes anything in the cloud; it reports C(changed=false).
  - The O(wait) option has no effect; the module always waits up to O(timeout).
  - The module does not enable the host; M(fenix.maintenance.compute_service) does, once it passed.
"""

EXAMPLES = r"""
- name: Wait until compute1 is healthy again after its upgrade, at most 5 minutes
  fenix.maintenance.compute_host_health:
    cloud: admin
    host: compute1
  register: health

- name: Show how long the gate waited for nova-compute's first report
  ansible.builtin.debug:
    msg: "{{ health.health | selectattr('name', 'equalto', 'heartbeat') | map(attribute='waited') | first }} s"

- name: Only Nova's view, without Placement, for a host being brought back by hand
  fenix.maintenance.compute_host_health:
    cloud: admin
    host: compute2
    checks: [nova_compute, heartbeat, hypervisor]
    timeout: 60
    poll_interval: 2

- name: The gate of a batch, in one wait; a host that did not pass is named in failures
  fenix.maintenance.compute_host_health:
    cloud: admin
    hosts: [compute1, compute2, compute3]
  register: batch_health
  failed_when: batch_health.failed and not batch_health.failures | default({})

- name: The gate of a maintenance session, recorded in its journal
  fenix.maintenance.compute_host_health:
    cloud: admin
    journal: /var/lib/fenix/journal.sqlite
    session_id: chg-1234
    host: compute1
"""

RETURN = r"""
healthy:
  description: Whether the host (with O(hosts), every host) passed every check (on failure, false).
  returned: always
  type: bool
  sample: true
health:
  description: Each check of O(checks), in the order above, as it stood at the end.
  returned: with O(host)
  type: list
  elements: dict
  contains:
    name:
      description: The check.
      type: str
      sample: heartbeat
    passed:
      description: Whether it passed.
      type: bool
      sample: true
    seen:
      description: What it saw at its last read.
      type: str
      sample: "nova-compute reported at 2026-11-22T11:03:20.000000, after the gate began"
    waited:
      description: Seconds from the start until it passed, or until the module gave up.
      type: float
      sample: 7.5
    passed_at:
      description: When it passed, in UTC (null when it did not).
      type: str
      sample: "2026-11-22T11:03:21.402117Z"
results:
  description: Each host's gate, in the order of O(hosts) (with O(host), that one host).
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: The host.
      type: str
      sample: compute1
    healthy:
      description: Whether it passed every check.
      type: bool
      sample: true
    health:
      description: Each check of O(checks), with the keys of RV(health).
      type: list
      elements: dict
    waited:
      description: Seconds from the start until the host passed, or until the module gave up.
      type: float
      sample: 7.5
failures:
  description:
    - For each host that did not pass, why - each failed check and what it saw. Empty when every host passed.
    - On failure the module's message joins these.
  returned: always
  type: dict
  sample:
    compute2: "compute2 is not healthy after 300s: heartbeat: no report from nova-compute since the gate began
      (Nova shows state up; last report 2026-11-22T11:00:00.000000)"
waited:
  description: Seconds the module waited.
  returned: always
  type: float
  sample: 7.5
progress:
  description: A line each time a check's verdict changed (and at each check's first verdict), in order, for every host.
  returned: always
  type: list
  elements: str
  sample:
    - "compute1: heartbeat not passed after 0 s: no report from nova-compute since the gate began
      (Nova shows state up; last report 2026-11-22T11:03:10.000000)"
    - "compute1: heartbeat passed after 7.5 s: nova-compute reported at 2026-11-22T11:03:20.000000,
      after the gate began"
"""

from typing import Dict, List

from ansible_collections.fenix.maintenance.plugins.module_utils.base import (
    ONE_HOST_OR_SEVERAL,
    OpenStackModule,
    hosts_given,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.health import (
    CHECKS,
    CheckResult,
    GateResult,
    HostNotHealthy,
    require_health_floors,
    validate_checks,
    wait_healthy_hosts,
)

HEALTHY_EVENT = "host.healthy"
UNHEALTHY_EVENT = "host.unhealthy"
CHECK_EVENT = "host.health_check"


class ComputeHostHealthModule(OpenStackModule):
    argument_spec = dict(
        host=dict(),
        hosts=dict(type="list", elements="str"),
        checks=dict(type="list", elements="str", choices=list(CHECKS), default=list(CHECKS)),
        timeout=dict(default=300, type="int"),
        poll_interval=dict(default=3, type="float"),
        session_id=dict(),
    )
    module_kwargs = dict(supports_check_mode=True, **ONE_HOST_OR_SEVERAL)
    uses_journal = True

    def run(self) -> dict:
        params = self.params
        if params["timeout"] < 0 or params["poll_interval"] <= 0:
            raise ValueError("timeout must be >= 0 and poll_interval > 0 (given %s and %s)"
                             % (params["timeout"], params["poll_interval"]))
        hosts = hosts_given(params)
        checks = validate_checks(params["checks"])
        if self.records:
            self.session(params["session_id"])  # checked before the wait
        require_health_floors(self.conn)
        self.progress: List[str] = []
        try:
            results = wait_healthy_hosts(self.conn, hosts, checks, params["timeout"], params["poll_interval"],
                                         progress=self.record_check)
        except HostNotHealthy as exc:
            self.record_ends(exc.results)
            # The base fails with the message and this result: what each check saw.
            self.partial_result = self.result_of(exc.results, exc.failures)
            raise
        self.record_ends(results)
        return self.result_of(results, {})

    @property
    def records(self) -> bool:
        """Whether the gate goes into a session's journal (never in check mode)."""
        return bool(self.params["session_id"]) and not self.check_mode

    def record_check(self, host: str, line: str, check: CheckResult) -> None:
        self.progress.append(line)
        if self.records:
            self.journal.record_event(self.params["session_id"], CHECK_EVENT, host=host,
                                      details=dict(check.as_dict(), line=line))

    def record_ends(self, results: List[GateResult]) -> None:
        if self.records:
            for result in results:
                self.journal.record_event(
                    self.params["session_id"], HEALTHY_EVENT if result.healthy else UNHEALTHY_EVENT, host=result.host,
                    details=dict(waited=result.waited, timeout=self.params["timeout"],
                                 checks=[check.as_dict() for check in result.checks]))

    def result_of(self, results: List[GateResult], failures: Dict[str, str]) -> dict:
        result = dict(
            changed=False,
            healthy=all(gate.healthy for gate in results),
            results=[dict(host=gate.host, healthy=gate.healthy, health=[check.as_dict() for check in gate.checks],
                          waited=gate.waited) for gate in results],
            failures=failures,
            waited=max(gate.waited for gate in results),
            progress=self.progress,
        )
        if self.params["host"] is not None:
            result["health"] = result["results"][0]["health"]
        return result


def main() -> None:
    module = ComputeHostHealthModule()
    module()


if __name__ == "__main__":
    main()
