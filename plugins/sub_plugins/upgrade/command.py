# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Upgrade plugin ``command``: runs a command on the task's host with ansible.builtin.command."""

from __future__ import annotations

# The paths are str, not path: they are the host's, and a path would be
# expanded (~, $HOME) on the controller, where the metadata are checked.
DOCUMENTATION = r"""
name: command
short_description: Runs a command on the host with ansible.builtin.command
description:
  - Runs a command on the task's host with C(ansible.builtin.command) (no shell).
  - Give one of O(cmd) and O(argv).
  - A non-zero exit fails the plugin with the exit code and standard error.
  - In check mode the command does not run; O(creates) and O(removes) tell whether it would.
options:
  cmd:
    description: The command line, split like C(ansible.builtin.command) splits it (no shell).
    type: str
  argv:
    description: The command as a list, not split.
    type: list
    elements: str
  creates:
    description: A path on the host; when it exists, the command does not run.
    type: str
  removes:
    description: A path on the host; when it does not exist, the command does not run.
    type: str
  chdir:
    description: The directory on the host to run the command in.
    type: str
  stdin:
    description: Given to the command on its standard input.
    type: str
"""

from typing import Any, Dict, Optional

from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginBase, UpgradePluginError

PASSED_ON = ("creates", "removes", "chdir", "stdin")


class UpgradePlugin(UpgradePluginBase):
    def validate(self, metadata: Dict[str, Any]) -> None:
        super().validate(metadata)
        if ("cmd" in metadata) == ("argv" in metadata):
            raise UpgradePluginError("metadata: give one of cmd (a command line) and argv (a list)")
        if "cmd" in metadata and not (metadata["cmd"] or "").strip():
            raise UpgradePluginError("metadata.cmd: %r is not a command line" % (metadata["cmd"],))
        if "argv" in metadata and not metadata["argv"]:
            raise UpgradePluginError("metadata.argv: %r is not a non-empty list of strings" % (metadata["argv"],))

    def run(self, metadata: Dict[str, Any], host: Optional[str], check_mode: bool) -> Dict[str, Any]:
        args = {key: metadata[key] for key in PASSED_ON if key in metadata}
        if "cmd" in metadata:
            args["cmd"] = metadata["cmd"]
            shown = metadata["cmd"]
        else:
            args["argv"] = list(metadata["argv"])
            shown = " ".join(metadata["argv"])
        result = self.raise_if_failed(self.run_module("ansible.builtin.command", args), "command %r" % shown)
        if check_mode and (result.get("skipped") or result.get("changed")):
            # The command module's own words ("Command would have run ...") do not say which.
            msg = "would run %s" % shown
        else:
            msg = result.get("msg") or "ran %s" % shown
        return dict(
            changed=bool(result.get("changed")),
            msg=msg,
            cmd=shown,
            rc=result.get("rc"),
            stdout=result.get("stdout", ""),
            stderr=result.get("stderr", ""),
        )
