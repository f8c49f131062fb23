# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Upgrade plugin ``package_upgrade``: brings packages on the task's host to their latest version.

It runs the ansible.builtin.package action (apt, dnf, ... as the host has) with
``state: latest``. Metadata:

- ``names`` (str or list of str, default ``*``): the packages; ``*`` upgrades every
  installed package;
- ``update_cache`` (bool, default false): refresh the package lists first;
- ``manager`` (str, default auto): the package manager module to use (the package action's ``use``).

In check mode the package manager only simulates (apt-get --simulate, dnf's
check mode) and reports what would change.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginBase, UpgradePluginError

# Enough of the package manager's output to see what changed, without
# filling the journal with a whole distribution upgrade log.
OUTPUT_KEPT = 4000


class UpgradePlugin(UpgradePluginBase):
    metadata_keys = frozenset(("names", "update_cache", "manager"))

    def validate(self, metadata: Dict[str, Any]) -> None:
        super().validate(metadata)
        names = metadata.get("names", "*")
        if not (isinstance(names, str) or (isinstance(names, list) and names and all(isinstance(n, str) for n in names))):
            raise UpgradePluginError("metadata.names: %r is not a package name or a list of them ('*' for all)" % (names,))
        if not isinstance(metadata.get("update_cache", False), bool):
            raise UpgradePluginError("metadata.update_cache: %r is not true or false" % (metadata["update_cache"],))

    def run(self, metadata: Dict[str, Any], host: Optional[str], check_mode: bool) -> Dict[str, Any]:
        names = metadata.get("names", "*")
        names = [names] if isinstance(names, str) else list(names)
        args: Dict[str, Any] = dict(name=names, state="latest", use=metadata.get("manager", "auto"))
        if metadata.get("update_cache"):
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
