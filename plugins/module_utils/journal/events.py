# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The journal's event log: a time-stamped line for every change, in the transaction of the change.

Every other part writes its events through ``_event``; ``record_event`` is for
callers with something to log that changes no table (a notification sent, a
delivery failed).
"""

from __future__ import annotations

import json
from typing import List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.core import JournalCore
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import dump_json

# A finished session's figures that a plan's estimate learns from (planning.history.session_figures), kept
# once read from its run report, which takes seconds to build for a session of thousands of hosts. Not part
# of what the session did: the run report leaves it out.
SESSION_FIGURES = "session.figures"


class EventsMixin(JournalCore):
    """The events table (part of Journal, which supplies ``session``)."""

    def record_event(self, session_id: str, kind: str, host: Optional[str] = None,
                     project_id: Optional[str] = None, instance_id: Optional[str] = None,
                     details: Optional[dict] = None) -> None:
        with self.transaction():
            self.session(session_id)
            self._event(session_id, kind, host, project_id, instance_id, details)

    def events(self, session_id: str, after: int = 0) -> List[dict]:
        rows = self._run(
            "SELECT * FROM events WHERE session_id = ? AND event_id > ? ORDER BY event_id", (session_id, after)
        ).fetchall()
        return [dict(row, details=json.loads(row["details"])) for row in rows]

    def session_figures(self, session_id: str) -> Optional[dict]:
        """The latest figures kept for the session (record_session_figures), None when none were."""
        row = self._run(
            "SELECT details FROM events WHERE session_id = ? AND kind = ? ORDER BY event_id DESC LIMIT 1",
            (session_id, SESSION_FIGURES),
        ).fetchone()
        return json.loads(row["details"]) if row is not None else None

    def record_session_figures(self, session_id: str, figures: dict) -> None:
        self.record_event(session_id, SESSION_FIGURES, details=figures)

    def _event(self, session_id, kind, host=None, project_id=None, instance_id=None, details=None) -> None:
        self._run(
            "INSERT INTO events (session_id, at, kind, host, project_id, instance_id, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, self.clock(), kind, host, project_id, instance_id, dump_json(details)),
        )
