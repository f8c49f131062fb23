#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: compute_host_info
short_description: Read compute hosts, their capacity and their servers
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - For the named compute hosts, or all of them, returns the nova-compute
    service state and reason, the hypervisor, the Placement capacity and usage
    per resource class (with allocation ratios and reserved amounts), and the
    servers on each host grouped by project with status, flavor and server group.
  - Uses a fixed number of list calls however many servers there are (one
    server list per named host, or one for the whole cloud, plus two Placement
    reads per host); it never reads servers one by one.
options:
  hosts:
    description:
      - Hosts to report on, as Nova names them. All compute hosts when not given.
      - Naming a host that runs no nova-compute service is an error.
    type: list
    elements: str
  servers:
    description:
      - Whether to list the servers on each host. V(false) saves the server listing.
    type: bool
    default: true
  resources:
    description:
      - Whether to read capacity and usage from Placement. V(false) saves two requests per host.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.openstack
  - fenix.maintenance.openstack.ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: all
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
notes:
  - The O(wait) and O(timeout) options have no effect.
"""

EXAMPLES = r"""
- name: Everything about two hosts
  fenix.maintenance.compute_host_info:
    cloud: admin
    hosts: [compute1, compute2]
  register: info

- name: Hosts that hold no server
  ansible.builtin.debug:
    msg: "{{ info.hosts | selectattr('server_count', 'equalto', 0) | map(attribute='host') | list }}"

- name: Service states of every host, without servers or capacity
  fenix.maintenance.compute_host_info:
    cloud: admin
    servers: false
    resources: false
"""

RETURN = r"""
hosts:
  description: One entry per compute host, sorted by host name.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: Host name of the nova-compute service.
      type: str
      sample: compute1
    service:
      description: The nova-compute service.
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
    hypervisor:
      description: The hypervisor of the host; its id is the Placement resource provider UUID.
      type: dict
      sample:
        id: 1a2b3c4d-0000-4000-8000-000000000001
        hypervisor_hostname: compute1
        state: up
        status: disabled
    resources:
      description:
        - Placement inventory and usage per resource class. C(capacity) is
          (total - reserved) x allocation_ratio; C(free) is capacity - used.
        - Empty when O(resources=false).
      type: dict
      sample:
        VCPU: {total: 8, reserved: 0, allocation_ratio: 1.0, capacity: 8, used: 3, free: 5}
        MEMORY_MB: {total: 4096, reserved: 0, allocation_ratio: 1.0, capacity: 4096, used: 768, free: 3328}
    server_count:
      description: Number of servers on the host (0 when O(servers=false)).
      type: int
      sample: 3
    projects:
      description: Servers on the host grouped by project.
      type: list
      elements: dict
      contains:
        project_id:
          description: ID of the project.
          type: str
        project_name:
          description: Name of the project, when the account may list projects.
          type: str
        servers:
          description: The project's servers on the host.
          type: list
          elements: dict
          sample:
            - id: 0f8b7f28-50c4-4a0b-9fb3-2b1f0e7b7d11
              name: web-1
              project_id: 5a1b0c7f2e8d4c0e9c9b3c0d2b1a0e9f
              status: ACTIVE
              task_state: null
              host: compute1
              host_id: 3f0c...
              flavor: {name: m1.small, vcpus: 1, ram: 2048, disk: 20}
              server_group: {id: 7c1e..., name: web, policy: anti-affinity}
"""

from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import project_names, read_hosts


class ComputeHostInfoModule(OpenStackModule):
    argument_spec = dict(
        hosts=dict(type="list", elements="str"),
        servers=dict(default=True, type="bool"),
        resources=dict(default=True, type="bool"),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self) -> dict:
        views = read_hosts(
            self.conn,
            hosts=self.params["hosts"],
            with_servers=self.params["servers"],
            with_resources=self.params["resources"],
        )
        names = project_names(self.conn) if self.params["servers"] else {}
        return dict(changed=False, hosts=[view.as_dict(names) for view in views])


def main() -> None:
    module = ComputeHostInfoModule()
    module()


if __name__ == "__main__":
    main()
