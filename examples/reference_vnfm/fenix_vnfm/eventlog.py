# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""The VNFM's JSON-lines event log: everything it receives, decides and sends."""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime, timezone
from typing import Any, Optional


class EventLog:
    """JSON lines: {"at": <UTC ISO time>, "event": <what>, ...}; tests and the demo read them."""

    def __init__(self, path: Optional[str]) -> None:
        self.handle = open(path, "a", encoding="utf-8") if path else sys.stdout
        self.lock = threading.Lock()

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps(dict({"at": datetime.now(timezone.utc).isoformat(), "event": event}, **fields),
                          sort_keys=True, default=str)
        with self.lock:
            self.handle.write(line + "\n")
            self.handle.flush()

    def close(self) -> None:
        if self.handle is not sys.stdout:
            self.handle.close()
