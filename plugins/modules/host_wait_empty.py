#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: host_wait_empty
short_description: Wait until a compute host holds no server and no allocation
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Polls a compute host until no server of any project is on it and
    Placement holds no allocation against it (an unconfirmed migration
    still holds one).
  - On timeout, fails naming each remaining server with its project and status,
    and each remaining allocation consumer.
options:
  host:
    description:
      - The compute host, as Nova names it.
    type: str
    required: true
  timeout:
    description:
      - Seconds to wait for the host to become empty.
    type: int
    default: 600
  poll_interval:
    description:
      - Seconds between two reads.
    type: float
    default: 5
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
    details: Reads the host once and reports whether it is empty, without waiting or failing.
  diff_mode:
    support: none
notes:
  - The module never changes anything; it reports C(changed=false).
  - With O(wait=false) it reads the host once, like check mode.
"""

EXAMPLES = r"""
- name: Wait until compute1 is empty, at most 20 minutes
  fenix.maintenance.host_wait_empty:
    cloud: admin
    host: compute1
    timeout: 1200
"""

RETURN = r"""
empty:
  description: Whether the host is empty.
  returned: always
  type: bool
  sample: true
waited:
  description: Seconds spent waiting.
  returned: always
  type: float
  sample: 12.5
remaining:
  description:
    - What is left on the host. A server has C(id), C(name), C(project_id),
      C(status) and C(task_state); an allocation of a consumer that is not a
      server on the host (a migration, say) has C(allocation_consumer) and C(resources).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 0f8b7f28-50c4-4a0b-9fb3-2b1f0e7b7d11
      name: web-1
      project_id: 5a1b0c7f2e8d4c0e9c9b3c0d2b1a0e9f
      status: MIGRATING
      task_state: migrating
"""

import time

from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import find_compute_service
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.drain import (
    HostNotEmpty,
    read_host_contents,
    wait_host_empty,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import provider_id_of


class HostWaitEmptyModule(OpenStackModule):
    argument_spec = dict(
        host=dict(required=True),
        timeout=dict(default=600, type="int"),
        poll_interval=dict(default=5, type="float"),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self) -> dict:
        host = self.params["host"]
        if self.params["timeout"] < 0 or self.params["poll_interval"] <= 0:
            self.fail_json(msg="timeout must be >= 0 and poll_interval > 0")
        find_compute_service(self.conn, host)
        started = time.monotonic()
        if self.check_mode or not self.params["wait"]:
            contents = read_host_contents(self.conn, host, provider_id_of(self.conn, host))
        else:
            try:
                contents = wait_host_empty(
                    self.conn, host, self.params["timeout"], self.params["poll_interval"]
                )
            except HostNotEmpty as exc:
                # The failure's result names what is left on the host.
                self.fail_json(
                    msg=str(exc),
                    empty=False,
                    waited=round(time.monotonic() - started, 1),
                    remaining=exc.contents.describe(),
                    changed=False,
                )
        return dict(
            changed=False,
            empty=contents.empty,
            waited=round(time.monotonic() - started, 1),
            remaining=contents.describe(),
        )


def main() -> None:
    module = HostWaitEmptyModule()
    module()


if __name__ == "__main__":
    main()
