# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Upgrade plugin ``command``: runs a command on the task's host with ansible.builtin.command.

Metadata (one of ``cmd`` and ``argv``):

- ``cmd`` (str): the command line, split like ansible.builtin.command splits it (no shell);
- ``argv`` (list of str): the command as a list, no splitting;
- ``creates`` / ``removes`` (path): skip the command when this exists / does not exist,
  as ansible.builtin.command does (that is also what makes check mode meaningful);
- ``chdir`` (path): run it in this directory;
- ``stdin`` (str): given to the command on its standard input.

A non-zero exit fails the plugin with the exit code and standard error.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginBase, UpgradePluginError

PASSED_ON = ("creates", "removes", "chdir", "stdin")


class UpgradePlugin(UpgradePluginBase):
    metadata_keys = frozenset(("cmd", "argv") + PASSED_ON)

    def validate(self, metadata: Dict[str, Any]) -> None:
        super().validate(metadata)
        if ("cmd" in metadata) == ("argv" in metadata):
            raise UpgradePluginError("metadata: give one of cmd (a command line) and argv (a list)")
        if "cmd" in metadata and not (isinstance(metadata["cmd"], str) and metadata["cmd"].strip()):
            raise UpgradePluginError("metadata.cmd: %r is not a command line" % (metadata["cmd"],))
        argv = metadata.get("argv")
        if "argv" in metadata and not (isinstance(argv, list) and argv and all(isinstance(arg, str) for arg in argv)):
            raise UpgradePluginError("metadata.argv: %r is not a non-empty list of strings" % (argv,))

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
