# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Upgrade plugin ``dummy``: waits a while and reports, like Fenix's sample plugin.

Metadata:

- ``seconds`` (number, default 0): how long to sleep (not in check mode);
- ``changed`` (bool, default false): the ``changed`` it reports;
- ``msg`` (str): the message it reports;
- ``fail`` (str): fail with this message instead (to rehearse a failure).

Useful for tests, demos and to mark a point of the workflow in the journal.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Optional

from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginBase, UpgradePluginError


class UpgradePlugin(UpgradePluginBase):
    metadata_keys = frozenset(("seconds", "changed", "msg", "fail"))

    def validate(self, metadata: Dict[str, Any]) -> None:
        super().validate(metadata)
        seconds = metadata.get("seconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise UpgradePluginError("metadata.seconds: %r is not a number of seconds >= 0" % (seconds,))

    def run(self, metadata: Dict[str, Any], host: Optional[str], check_mode: bool) -> Dict[str, Any]:
        where = host or "the controller"
        if metadata.get("fail"):
            raise UpgradePluginError(str(metadata["fail"]))
        seconds = metadata.get("seconds", 0)
        if not check_mode and seconds:
            time.sleep(seconds)
        return dict(
            changed=bool(metadata.get("changed", False)),
            msg=metadata.get("msg") or "dummy %s on %s" % ("would run" if check_mode else "ran", where),
            slept=0 if check_mode else seconds,
            metadata=metadata,
        )
