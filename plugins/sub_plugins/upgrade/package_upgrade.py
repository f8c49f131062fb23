# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Upgrade plugin ``package_upgrade``: brings packages on the task's host to their latest version."""

from __future__ import annotations

DOCUMENTATION = r"""
name: package_upgrade
short_description: Brings packages on the host to their latest version
description:
  - Runs the C(ansible.builtin.package) action (apt, dnf, ... as the host has) with C(state=latest).
  - In check mode the package manager only simulates (apt-get --simulate, dnf's check mode)
    and reports what would change.
options:
  names:
    description:
      - The packages; V(*) upgrades every installed package.
      - A single name may be given as a string.
    type: list
    elements: str
    default: ['*']
  update_cache:
    description: Refresh the package lists first.
    type: bool
    default: false
  manager:
    description: The package manager module to use (the C(use) option of C(ansible.builtin.package)).
    type: str
    default: auto
"""

from typing import Any, Dict, Optional

from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginBase, UpgradePluginError

# Enough of the package manager's output to see what changed, without
# filling the journal with a whole distribution upgrade log.
OUTPUT_KEPT = 4000


class UpgradePlugin(UpgradePluginBase):
    def validate(self, metadata: Dict[str, Any]) -> None:
        if isinstance(metadata.get("names"), str):
            # The one shorthand taken as is: a single name for the list.
            metadata = dict(metadata, names=[metadata["names"]])
        super().validate(metadata)
        if "names" in metadata and not metadata["names"]:
            raise UpgradePluginError("metadata.names: %r is not a package name or a list of them ('*' for all)"
                                     % (metadata["names"],))

    def run(self, metadata: Dict[str, Any], host: Optional[str], check_mode: bool) -> Dict[str, Any]:
        options = self.options(metadata)
        names = options["names"]
        args: Dict[str, Any] = dict(name=names, state="latest", use=options["manager"])
        if options["update_cache"]:
            # Only when asked: not every package manager module takes the option.
            args["update_cache"] = True
        result = self.raise_if_failed(self.run_action("ansible.builtin.package", args),
                                      "upgrade of %s" % ", ".join(names))
        changed = bool(result.get("changed"))
        verb = ("would upgrade" if check_mode else "upgraded") if changed else "nothing to upgrade in"
        return dict(
            changed=changed,
            msg="%s %s" % (verb, ", ".join(names)),
            names=names,
            stdout=(result.get("stdout") or "")[-OUTPUT_KEPT:],
        )
