# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Upgrade plugin ``reboot``: reboots the task's host and waits until it is back."""

from __future__ import annotations

# The options of ansible.builtin.reboot, passed on only when given: its own
# defaults (named in the descriptions) apply to the others.
DOCUMENTATION = r"""
name: reboot
short_description: Reboots the host and waits until it is back
description:
  - Runs the C(ansible.builtin.reboot) action with the metadata as its options, which reboots
    the task's host, waits until its boot ID changes, then until O(test_command) succeeds.
  - In check mode it does nothing.
  - Like C(ansible.builtin.reboot) it refuses a local connection, which would reboot the controller.
    Use it as a C(host) or C(compute) action, so the compute host itself is rebooted. It returns once the
    host answers over its connection again; the role's health gate (M(fenix.maintenance.compute_host_health))
    then waits until its nova-compute reports to Nova again, before the host is enabled.
options:
  reboot_timeout:
    description: Seconds to wait for the host to come back and pass O(test_command); 600 when not given.
    type: int
  connect_timeout:
    description: Seconds to wait for each connection attempt while waiting; the connection's own when not given.
    type: int
  pre_reboot_delay:
    description: Seconds to wait before the reboot (whole minutes on Linux); 0 when not given.
    type: int
  post_reboot_delay:
    description: Seconds to wait after the reboot command, before checking that the host is back; 0 when not given.
    type: int
  msg:
    description: The message shown to the host's users before the reboot; C(Reboot initiated by Ansible) when not given.
    type: str
  reboot_command:
    description: The command that reboots, with its arguments; C(shutdown -r) found in O(search_paths) when not given.
    type: str
  search_paths:
    description: Where to look for the reboot command; C(/sbin), C(/bin), C(/usr/sbin), C(/usr/bin), C(/usr/local/sbin) when not given.
    type: list
    elements: str
  test_command:
    description: The command that must succeed on the host after the reboot; C(whoami) when not given.
    type: str
  boot_time_command:
    description: The command whose output changes with each boot; C(cat /proc/sys/kernel/random/boot_id) when not given.
    type: str
"""

from typing import Any, Dict, Optional

from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginBase


class UpgradePlugin(UpgradePluginBase):
    def run(self, metadata: Dict[str, Any], host: Optional[str], check_mode: bool) -> Dict[str, Any]:
        where = host or "the task's host"
        if check_mode:
            return dict(changed=True, rebooted=False, msg="would reboot %s" % where)
        result = self.raise_if_failed(self.run_action("ansible.builtin.reboot", self.options(metadata)), "reboot of %s" % where)
        return dict(
            changed=True,
            rebooted=bool(result.get("rebooted")),
            elapsed=result.get("elapsed"),
            msg="rebooted %s in %ss" % (where, result.get("elapsed")),
        )
