#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: compute_host_drain
short_description: Disable a compute host and move every server off it
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Like C(kubectl drain) for a nova-compute host, for when no tenant is to be asked.
  - Disables the host's nova-compute service (reason prefixed C(fenix.maintenance:)),
    decides per server by its status what to do (O(server_policy)), and
    before moving anything fails with every reason at once if a server may not
    be moved, re-enabling the host if this run disabled it.
  - Then migrates the servers (live or cold, several at a time), confirms the
    cold migrations and waits until the host holds no server and no allocation.
  - A host that is already disabled and empty is left as it is (C(changed=false)).
options:
  host:
    description:
      - The compute host to drain, as Nova names it.
    type: str
    required: true
  reason:
    description:
      - Why the host is disabled, stored in Nova prefixed with C(fenix.maintenance:).
    type: str
    default: maintenance
  migration_timeout:
    description:
      - Seconds to wait for one server's migration to finish.
    type: int
    default: 600
  timeout:
    description:
      - Seconds to wait, after the migrations, for the host to hold nothing.
    type: int
    default: 300
  restore_on_failure:
    description:
      - Re-enable the host if this run disabled it and the drain fails.
      - V(false) leaves it disabled for the operator to look at.
    type: bool
    default: true
extends_documentation_fragment:
  - fenix.maintenance.openstack.SERVER_POLICY
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.openstack
  - fenix.maintenance.openstack.MIGRATION
  - fenix.maintenance.openstack.ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: all
  check_mode:
    support: full
    details: Reports whether the host would be disabled and which server would move how.
  diff_mode:
    support: full
    details: The service status and the servers on the host, before and after.
notes:
  - With O(wait=false) the module requests the migrations and returns; it
    does not confirm cold migrations nor wait for the host to be empty.
"""

EXAMPLES = r"""
- name: Drain compute1 before a reboot
  fenix.maintenance.compute_host_drain:
    cloud: admin
    host: compute1
    reason: reboot for kernel 6.12 CHG-42
    concurrency: 4
  register: drained

- name: What moved
  ansible.builtin.debug:
    msg: "{{ drained.moved | map(attribute='name') | zip(drained.moved | map(attribute='destination')) | list }}"

- name: Drain but leave stopped servers where they are
  fenix.maintenance.compute_host_drain:
    cloud: admin
    host: compute2
    server_policy:
      shutoff: skip
"""

RETURN = r"""
service:
  description: The nova-compute service after the drain (predicted in check mode).
  returned: success
  type: dict
  sample:
    host: compute1
    status: disabled
    disabled_reason: "fenix.maintenance: maintenance"
    disabled_by_us: true
    forced_down: false
    state: up
    id: 4bd7ffc6-3b3c-4d0e-b1f1-8df1a3e0b5a1
    availability_zone: nova
disabled:
  description: Whether this run disabled the service.
  returned: always
  type: bool
  sample: true
moved:
  description:
    - One entry per server the module migrated (or would, in check mode),
      with the keys of M(fenix.maintenance.server_migrate)'s RV(fenix.maintenance.server_migrate#module:servers).
  returned: always
  type: list
  elements: dict
  sample:
    - server_id: 0f8b7f28-50c4-4a0b-9fb3-2b1f0e7b7d11
      name: web-1
      project_id: 5a1b0c7f2e8d4c0e9c9b3c0d2b1a0e9f
      kind: live
      source: compute1
      destination: compute3
      status: migrated
      attempts: 1
      duration: 8.4
      error: null
skipped:
  description: Servers left on the host by policy, each with C(id), C(name), C(project_id), C(status), C(reason).
  returned: always
  type: list
  elements: dict
  sample: []
blockers:
  description: Servers that stopped the drain before anything moved, with the reason.
  returned: always
  type: list
  elements: dict
  sample: []
empty:
  description: Whether the host held nothing at the end.
  returned: always
  type: bool
  sample: true
restored:
  description: Whether the host was re-enabled because the drain failed.
  returned: always
  type: bool
  sample: false
"""

from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import (
    HostNotFound,
    apply_service,
    desired_service,
    diff_view,
    find_compute_service,
    needs_change,
    predicted_state,
    service_state,
    validate_reason,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.drain import (
    DEFAULT_POLICY,
    HostNotEmpty,
    plan_drain,
    read_host_contents,
    server_policy_argument_spec,
    wait_host_empty,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (
    MIGRATION_COUNTS,
    MIGRATION_DELAYS,
    Migrator,
    invalid_number,
    migration_argument_spec,
    migration_settings,
    unmoved_outcome,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import provider_id_of


class DrainFailed(Exception):
    pass


class ComputeHostDrainModule(OpenStackModule):
    argument_spec = dict(
        host=dict(required=True),
        reason=dict(default="maintenance"),
        server_policy=server_policy_argument_spec(),
        **migration_argument_spec(),
        migration_timeout=dict(default=600, type="int"),
        timeout=dict(default=300, type="int"),
        restore_on_failure=dict(default=True, type="bool"),
    )
    module_kwargs = dict(supports_check_mode=True)

    def validate(self) -> None:
        error = invalid_number(self.params, MIGRATION_COUNTS + ("migration_timeout",), MIGRATION_DELAYS + ("timeout",))
        if error:
            self.fail_json(msg=error)
        try:
            validate_reason(self.params["reason"])
        except ValueError as exc:
            self.fail_json(msg=str(exc))

    def run(self) -> dict:
        self.validate()
        host = self.params["host"]
        try:
            service = find_compute_service(self.conn, host)
        except HostNotFound as exc:
            self.fail_json(msg=str(exc))
        before = service_state(service)
        desired = desired_service(before, "disabled", self.params["reason"], False, None)
        will_disable = needs_change(before, desired)
        provider_id = provider_id_of(self.conn, host)
        contents = read_host_contents(self.conn, host, provider_id, with_groups=True)
        policy = dict(DEFAULT_POLICY, **(self.params["server_policy"] or {}))
        plan = plan_drain(contents.servers, policy)
        result = dict(
            changed=will_disable or bool(plan.moves),
            disabled=False,
            moved=[],
            skipped=plan.skipped,
            blockers=plan.blockers,
            empty=contents.empty,
            restored=False,
        )
        if self.diff_mode:
            result["diff"] = dict(
                before=dict(diff_view(before), servers=sorted(server.name for server in contents.servers)),
                after=dict(
                    diff_view(predicted_state(before, desired)),
                    servers=sorted(item["name"] for item in plan.skipped),
                ),
            )
        if plan.blockers:
            # Nothing has changed yet: the host is not even disabled.
            result["changed"] = False
            self.fail_json(msg=blockers_message(host, plan.blockers), service=before.as_dict(), **result)
        if self.check_mode:
            result["service"] = predicted_state(before, desired).as_dict()
            servers = {server.id: server for server in contents.servers}
            result["moved"] = [
                unmoved_outcome(request.server_id, servers[request.server_id].name,
                                servers[request.server_id].project_id, request.kind, host,
                                "would_migrate").as_dict()
                for request in plan.moves
            ]
            return result
        after = apply_service(self.conn, service, desired) if will_disable else before
        result["disabled"] = will_disable
        try:
            result["empty"] = self.move_and_wait(plan, provider_id, result)
        except DrainFailed as exc:
            if will_disable and self.params["restore_on_failure"]:
                after = apply_service(self.conn, find_compute_service(self.conn, host),
                                      desired_service(after, "enabled", "", False, None))
                result["restored"] = True
            self.fail_json(msg="%s%s" % (exc, restore_note(result["restored"], will_disable)),
                           service=after.as_dict(), **result)
        result["service"] = after.as_dict()
        return result

    def move_and_wait(self, plan, provider_id, result: dict) -> bool:
        settings = migration_settings(self.params, self.params["migration_timeout"])
        outcomes = Migrator(self.conn, settings).migrate_all(plan.moves)
        result["moved"] = [outcome.as_dict() for outcome in outcomes]
        failed = [outcome for outcome in outcomes if not outcome.ok]
        if failed:
            raise DrainFailed("drain of %s failed: %s" % (self.params["host"], "; ".join(
                "%s (%s) of project %s: %s" % (o.name, o.server_id, o.project_id, o.error) for o in failed)))
        if not self.params["wait"] or plan.skipped:
            return read_host_contents(self.conn, self.params["host"], provider_id).empty
        try:
            wait_host_empty(self.conn, self.params["host"], self.params["timeout"],
                            self.params["poll_interval"], provider_id)
        except HostNotEmpty as exc:
            raise DrainFailed(str(exc)) from exc
        return True


def blockers_message(host: str, blockers: list) -> str:
    return "cannot drain %s, nothing was changed: %s" % (host, "; ".join(
        "server %s (%s) of project %s is %s: %s" % (b["name"], b["id"], b["project_id"], b["status"], b["reason"])
        for b in blockers))


def restore_note(restored: bool, disabled_by_run: bool) -> str:
    if restored:
        return "; the host was enabled again"
    if disabled_by_run:
        return "; the host stays disabled (restore_on_failure is false)"
    return ""


def main() -> None:
    module = ComputeHostDrainModule()
    module()


if __name__ == "__main__":
    main()
