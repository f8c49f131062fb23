# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Upgrade plugin ``dummy``: waits a while and reports, like Fenix's sample plugin."""

from __future__ import annotations

DOCUMENTATION = r"""
name: dummy
short_description: Waits a while and reports, like Fenix's sample plugin
description:
  - Sleeps (not in check mode) and reports what its metadata say.
  - Useful for tests, demos, rehearsals of a failure, and to mark a point of the workflow in the journal.
options:
  seconds:
    description: How long to sleep, in seconds (at least 0); not in check mode.
    type: float
    default: 0
  changed:
    description: The C(changed) it reports.
    type: bool
    default: false
  msg:
    description: The message it reports; by default it says that it ran, and on which host.
    type: str
  fail:
    description: Fail with this message instead of sleeping (to rehearse a failure).
    type: str
"""

import time
from typing import Any, Dict, Optional

from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginBase, UpgradePluginError


class UpgradePlugin(UpgradePluginBase):
    def validate(self, metadata: Dict[str, Any]) -> None:
        super().validate(metadata)
        if metadata.get("seconds", 0) < 0:
            raise UpgradePluginError("metadata.seconds: %r is not a number of seconds >= 0" % (metadata["seconds"],))

    def run(self, metadata: Dict[str, Any], host: Optional[str], check_mode: bool) -> Dict[str, Any]:
        options = self.options(metadata)
        where = host or "the controller"
        if options.get("fail"):
            raise UpgradePluginError(options["fail"])
        seconds = options["seconds"]
        if not check_mode and seconds:
            time.sleep(seconds)
        return dict(
            changed=options["changed"],
            msg=options.get("msg") or "dummy %s on %s" % ("would run" if check_mode else "ran", where),
            slept=0 if check_mode else seconds,
            metadata=metadata,
        )
