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
      - Seconds to wait for one server's migration to finish;
        a live migration still running then is aborted or forced to complete (O(on_timeout)).
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
    # Four at a time from this one host (Nova's max_concurrent_live_migrations on it is 4).
    concurrency: 4
    concurrency_per_host: 4
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
      timeout_action: null
      server_state: null
      progress: []
skipped_servers:
  description:
    - Servers left on the host by policy, each with C(id), C(name), C(project_id), C(status), C(reason).
    - Not named C(skipped), a key by which Ansible would count the task as skipped.
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
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.drain import (
    DEFAULT_POLICY,
    server_policy_argument_spec,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (
    MIGRATION_COUNTS,
    MIGRATION_DELAYS,
    invalid_number,
    migration_argument_spec,
    migration_settings,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.drain_host import (
    DrainReport,
    DrainSettings,
    DrainStopped,
    drain_host,
)


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

    def run(self) -> dict:
        error = invalid_number(self.params, MIGRATION_COUNTS + ("migration_timeout",), MIGRATION_DELAYS + ("timeout",))
        if error:
            self.fail_json(msg=error)
        settings = self.settings()
        try:
            report = drain_host(self.conn, self.params["host"], settings, self.check_mode)
        except DrainStopped as exc:
            # The failure's result says what moved, what blocks and whether the host was enabled again.
            self.fail_json(msg=str(exc), **self.result(exc.report))
        return self.result(report)

    def settings(self) -> DrainSettings:
        return DrainSettings(
            reason=self.params["reason"],
            policy=dict(DEFAULT_POLICY, **(self.params["server_policy"] or {})),
            migration=migration_settings(self.params, self.params["migration_timeout"]),
            timeout=self.params["timeout"],
            restore_on_failure=self.params["restore_on_failure"],
        )

    def result(self, report: DrainReport) -> dict:
        result = report.as_result()
        if self.diff_mode:
            result["diff"] = report.diff()
        return result


def main() -> None:
    module = ComputeHostDrainModule()
    module()


if __name__ == "__main__":
    main()
