#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: compute_service
short_description: Disable or enable the nova-compute service of a host
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Disables the nova-compute service of a host so that the scheduler places
    no new server there, or enables it again.
  - "The C(disabled_reason) of a host this module disables starts with
    C(fenix.maintenance:), followed with O(session_id) by the session that owns the disable -
    C(fenix.maintenance: session <id>: <reason>)."
  - Only the owner of a disable enables the host again - the session named in its reason, or a call
    without O(session_id) for a disable made without one. A host disabled by anyone else (a person,
    another tool, another session) is left as it is; disabling it again changes nothing, and enabling
    it fails, naming who disabled it and how they give it back, unless O(force=true).
  - A reason that names no session (C(fenix.maintenance) and the reason, written by a call without
    O(session_id), or by versions before 0.2.0 outside the role) is enabled by a call without
    O(session_id), or by the session whose journal records that it disabled the host.
  - Can also set or clear the forced-down flag of the service.
  - With O(hosts), the same change is made to several hosts in one run (the hosts of a batch); every host is
    checked against Nova before any is changed, and RV(results) holds each host's outcome.
options:
  host:
    description:
      - The host of the nova-compute service, as Nova names it (C(openstack compute service list)).
      - Exactly one of O(host) and O(hosts) is required.
    type: str
  hosts:
    description:
      - Several hosts, as Nova names them, each changed as O(host) would be, in this order.
      - Exactly one of O(host) and O(hosts) is required.
    type: list
    elements: str
    version_added: 0.2.0
  state:
    description:
      - V(disabled) stops scheduling to the host; V(enabled) allows it again.
    type: str
    choices: [disabled, enabled]
    default: disabled
  reason:
    description:
      - "Why the host is disabled. Stored in Nova prefixed with C(fenix.maintenance:), and with
        O(session_id) with C(fenix.maintenance: session <id>:) (at most 255 characters in all)."
      - Ignored when O(state=enabled).
    type: str
    default: maintenance
  force:
    description:
      - With O(state=enabled), enable a host even if someone else (or another session) disabled it.
      - With O(state=disabled), take over a host someone else disabled by
        replacing its reason with ours (so that a later enable by this
        collection, or by this session, re-enables it).
    type: bool
    default: false
  forced_down:
    description:
      - Set (V(true)) or clear (V(false)) the forced-down flag of the service.
        Forcing a service down tells Nova the host is fenced, which evacuation needs.
      - Left as it is when not given.
    type: bool
  maintained:
    description:
      - With O(state=enabled), also record each host as maintained in the journal of O(session_id)
        (its progress state C(MAINTAINED); a resumed run skips it), in the write that records the enable.
        A rolling maintenance ends a host with one task instead of two.
      - A host left disabled (another session's, without O(force)) fails the module as without this option,
        before anything is changed or recorded.
      - Requires O(session_id) and O(state=enabled), and the hosts must be hosts of the session.
    type: bool
    default: false
    version_added: 0.2.0
  session_id:
    description:
      - Act for this maintenance session, and record the change in its journal before it is made
        (a host the session disables is one the session must enable again; resume, abort
        and M(fenix.maintenance.maintenance_session) with O(fenix.maintenance.maintenance_session#module:restore_hosts=true) rely on it).
      - The session is named in the reason it writes, and it enables only hosts whose reason names it.
      - The session must exist in the journal.
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
  diff_mode:
    support: full
notes:
  - The O(wait) and O(timeout) options have no effect, as Nova applies the change at once.
"""

EXAMPLES = r"""
- name: Disable a compute host for maintenance
  fenix.maintenance.compute_service:
    cloud: admin
    host: compute1
    state: disabled
    reason: kernel upgrade CHG-1234

- name: Enable it again (only if this collection disabled it, without a session)
  fenix.maintenance.compute_service:
    cloud: admin
    host: compute1
    state: enabled

- name: Disable a host for session chg-1234 (its reason names the session)
  fenix.maintenance.compute_service:
    cloud: admin
    journal: /var/lib/fenix/journal.sqlite
    session_id: chg-1234
    host: compute1

- name: Disable the hosts of a batch in one run; enable later only those not disabled by someone else
  fenix.maintenance.compute_service:
    cloud: admin
    hosts: [compute1, compute2, compute3]
    reason: kernel upgrade CHG-1234
  register: batch_disabled

- name: Enable them again
  fenix.maintenance.compute_service:
    cloud: admin
    hosts: "{{ ['compute1', 'compute2', 'compute3'] | difference(batch_disabled.owned_by_other_hosts) }}"
    state: enabled

- name: Enable a batch's hosts for session chg-1234 and record them maintained, in one task
  fenix.maintenance.compute_service:
    cloud: admin
    journal: /var/lib/fenix/journal.sqlite
    session_id: chg-1234
    hosts: [compute1, compute2]
    state: enabled
    maintained: true

- name: Fence a failed host before evacuating it
  fenix.maintenance.compute_service:
    cloud: admin
    host: compute2
    state: disabled
    reason: hardware failure
    forced_down: true
"""

RETURN = r"""
service:
  description: The nova-compute service after the change (as predicted in check mode).
  returned: success, with O(host)
  type: dict
  contains:
    host:
      description: Host of the service.
      type: str
      sample: compute1
    status:
      description: V(enabled) or V(disabled).
      type: str
      sample: disabled
    disabled_reason:
      description: Why the service is disabled.
      type: str
      sample: "fenix.maintenance: session chg-1234: maintenance"
    disabled_by_us:
      description: Whether this collection disabled the service (in any session, or without one).
      type: bool
      sample: true
    forced_down:
      description: Whether the service is forced down.
      type: bool
      sample: false
    state:
      description: V(up) or V(down), as Nova sees the service's heartbeat.
      type: str
      sample: up
    id:
      description: ID of the service.
      type: str
      sample: 4bd7ffc6-3b3c-4d0e-b1f1-8df1a3e0b5a1
    availability_zone:
      description: Availability zone of the host.
      type: str
      sample: nova
previous:
  description: The service before the module ran.
  returned: success, with O(host)
  type: dict
  sample:
    host: compute1
    status: enabled
    disabled_reason: null
    disabled_by_us: false
    forced_down: false
    state: up
    id: 4bd7ffc6-3b3c-4d0e-b1f1-8df1a3e0b5a1
    availability_zone: nova
owned_by_other:
  description:
    - True when the host stays disabled because someone else disabled it (O(state=disabled)
      without O(force)) - a person, another tool, another session, or (with O(session_id)) this
      collection without a session. A maintenance run must then not enable it at its end.
  returned: success, with O(host)
  type: bool
  sample: false
results:
  description: With O(hosts), each host's outcome, in the order of O(hosts).
  returned: success, with O(hosts)
  type: list
  elements: dict
  contains:
    host:
      description: The host.
      type: str
      sample: compute1
    changed:
      description: Whether this host's service, or with O(maintained) its record in the session, changed (would
        change, in check mode).
      type: bool
      sample: true
    service:
      description: Its service after the change, with the keys of RV(service).
      type: dict
    previous:
      description: Its service before the module ran, with the keys of RV(service).
      type: dict
    owned_by_other:
      description: As RV(owned_by_other), for this host.
      type: bool
      sample: false
owned_by_other_hosts:
  description: With O(hosts), the hosts of RV(results) whose RV(owned_by_other) is true, which a maintenance run must
    not enable at its end.
  returned: success, with O(hosts)
  type: list
  elements: str
  sample: []
"""

from dataclasses import dataclass
from typing import Any

from ansible_collections.fenix.maintenance.plugins.module_utils.base import (
    ONE_HOST_OR_SEVERAL,
    OpenStackModule,
    hosts_given,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import (
    DesiredService,
    ServiceState,
    apply_service,
    desired_service,
    diff_view,
    disabler,
    find_compute_service,
    find_compute_services,
    needs_change,
    predicted_state,
    service_state,
    validate_reason,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import HOST_MAINTAINED


@dataclass(frozen=True)
class ServiceChange:
    service: Any  # the SDK's Service
    current: ServiceState
    desired: DesiredService
    owned: bool  # the disable is this call's (its session's) to give back
    owned_by_other: bool
    records_maintained: bool  # with the maintained option, the session does not record the host maintained yet


class ComputeServiceModule(OpenStackModule):
    argument_spec = dict(
        host=dict(),
        hosts=dict(type="list", elements="str"),
        state=dict(default="disabled", choices=["disabled", "enabled"]),
        reason=dict(default="maintenance"),
        force=dict(default=False, type="bool"),
        forced_down=dict(type="bool"),
        session_id=dict(),
        maintained=dict(default=False, type="bool"),
    )
    module_kwargs = dict(supports_check_mode=True, **ONE_HOST_OR_SEVERAL)
    uses_journal = True

    def run(self) -> dict:
        params = self.params
        session_id = params["session_id"]
        validate_reason(params["reason"], session_id)
        hosts = hosts_given(params)
        if params["maintained"] and not (session_id and params["state"] == "enabled"):
            self.fail("maintained: records a host enabled again in a session's journal; give session_id and"
                      " state=enabled, or leave maintained out")
        if session_id:
            self.session(session_id)  # checked before anything changes
        self.host_records = self.session_hosts(session_id, hosts or [params["host"]], "maintained") \
            if params["maintained"] else {}
        if params["host"] is not None:
            return self.make(self.prepare(find_compute_service(self.conn, params["host"])))
        # Every host is found and its change judged (an enable refused, say) before the first is changed.
        changes = [self.prepare(service) for service in find_compute_services(self.conn, hosts)]
        results = [dict(self.make(change), host=change.current.host) for change in changes]
        result = dict(
            changed=any(one["changed"] for one in results),
            results=[{key: one[key] for key in ("host", "changed", "service", "previous", "owned_by_other")}
                     for one in results],
            owned_by_other_hosts=[one["host"] for one in results if one["owned_by_other"]],
        )
        if self.diff_mode:
            result["diff"] = dict(before={one["host"]: one["diff"]["before"] for one in results},
                                  after={one["host"]: one["diff"]["after"] for one in results})
        return result

    def prepare(self, service) -> ServiceChange:
        """What the options ask of one host's service; raises (changing nothing) when it may not be done."""
        params = self.params
        session_id = params["session_id"]
        current = service_state(service)
        recorded = bool(session_id) and current.host in self.journal.hosts_disabled_by_session(session_id)
        owned = current.owned_by(session_id, recorded)
        desired = desired_service(current, params["state"], params["reason"], params["force"], params["forced_down"],
                                  session_id=session_id, recorded=recorded)
        owned_by_other = params["state"] == "disabled" and current.status == "disabled" and not (owned or params["force"])
        record = self.host_records.get(current.host)
        records_maintained = record is not None and not (record.maintained and record.state == HOST_MAINTAINED)
        return ServiceChange(service, current, desired, owned, owned_by_other, records_maintained)

    def make(self, change: ServiceChange) -> dict:
        """One host's change made (predicted in check mode): the result of the module for that host."""
        current, desired = change.current, change.desired
        if change.owned_by_other:
            self.warn("host %s was already disabled by %s; left as it is" % (current.host, disabler(current)))
        after = self.apply(change.service, current, desired, change.owned)
        result = dict(
            changed=needs_change(current, desired) or change.records_maintained,
            service=after.as_dict(),
            previous=current.as_dict(),
            owned_by_other=change.owned_by_other,
        )
        if self.diff_mode:
            result["diff"] = dict(before=diff_view(current), after=diff_view(after))
        return result

    def apply(self, service, current: ServiceState, desired: DesiredService, owned: bool) -> ServiceState:
        """The service brought to ``desired`` (predicted in check mode); the named session records it."""
        changed = needs_change(current, desired)
        if self.check_mode:
            return predicted_state(current, desired) if changed else current
        session_id = self.params["session_id"]
        after = current
        if changed:
            # Disabling, or taking over someone else's disable with force: the session owns it from now on.
            if session_id and self.params["state"] == "disabled" and not owned:
                # Written first: a run killed right after the disable still knows to enable the host.
                self.journal.set_host(session_id, current.host, state="DISABLED", disabled_by_session=True)
            after = apply_service(self.conn, service, desired)
        if session_id and self.params["state"] == "enabled" and after.status == "enabled":
            maintained = dict(state=HOST_MAINTAINED, maintained=True) if self.params["maintained"] else {}
            self.journal.set_host(session_id, current.host, disabled_by_session=False, **maintained)
        return after


def main() -> None:
    module = ComputeServiceModule()
    module()


if __name__ == "__main__":
    main()
