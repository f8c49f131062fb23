# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Upgrade plugin ``reboot``: reboots the task's host and waits until it is back.

It runs the ansible.builtin.reboot action; the metadata are its options
(``reboot_timeout``, ``connect_timeout``, ``msg``, ``pre_reboot_delay``,
``post_reboot_delay``, ``reboot_command``, ``test_command``,
``boot_time_command``, ``search_paths``). In check mode it does nothing.
Like ansible.builtin.reboot it refuses a local connection, which would reboot
the controller. Use it as a ``host`` or ``compute`` action, so the compute host
itself is rebooted, and wait for its nova-compute to report up before
enabling the host again.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginBase

# The options of ansible.builtin.reboot (its action's _VALID_ARGS).
REBOOT_OPTIONS = frozenset((
    "boot_time_command",
    "connect_timeout",
    "msg",
    "post_reboot_delay",
    "pre_reboot_delay",
    "reboot_command",
    "reboot_timeout",
    "search_paths",
    "test_command",
))


class UpgradePlugin(UpgradePluginBase):
    metadata_keys = REBOOT_OPTIONS

    def run(self, metadata: Dict[str, Any], host: Optional[str], check_mode: bool) -> Dict[str, Any]:
        where = host or "the task's host"
        if check_mode:
            return dict(changed=True, rebooted=False, msg="would reboot %s" % where)
        result = self.raise_if_failed(self.run_action("ansible.builtin.reboot", dict(metadata)), "reboot of %s" % where)
        return dict(
            changed=True,
            rebooted=bool(result.get("rebooted")),
            elapsed=result.get("elapsed"),
            msg="rebooted %s in %ss" % (where, result.get("elapsed")),
        )
