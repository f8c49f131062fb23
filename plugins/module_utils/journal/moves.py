# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The journal's moves: each move of an instance off a host, recorded before Nova is asked for it."""

from __future__ import annotations

from typing import List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import seconds_between
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.core import JournalCore
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    JournalError,
    MoveRecord,
    record_from_row,
)


class MovesMixin(JournalCore):
    """The moves table (part of Journal, which supplies ``session`` and ``_event``)."""

    def start_move(self, session_id: str, instance_id: str, project_id: str, action: str,
                   from_host: Optional[str], target_host: Optional[str] = None) -> int:
        """Record that a move begins (before it is asked of Nova); its move_id."""
        with self.transaction():
            self.session(session_id)
            move_id = self._run(
                "INSERT INTO moves (session_id, instance_id, project_id, action, from_host, target_host, state,"
                " started_at) VALUES (?, ?, ?, ?, ?, ?, 'RUNNING', ?) RETURNING move_id",
                (session_id, instance_id, project_id, action, from_host, target_host, self.clock()),
            ).fetchone()["move_id"]
            self._event(session_id, "instance.move_started", host=from_host, project_id=project_id,
                        instance_id=instance_id, details={"action": action, "target_host": target_host})
            return move_id

    def finish_move(self, move_id: int, ok: bool, to_host: Optional[str] = None,
                    error: Optional[str] = None) -> MoveRecord:
        with self.transaction():
            if self._run("SELECT 1 FROM moves WHERE move_id = ?", (move_id,)).fetchone() is None:
                raise JournalError("move_id: no move %s in the journal" % move_id)
            self._run("UPDATE moves SET state = ?, to_host = ?, ended_at = ?, error = ? WHERE move_id = ?",
                      ("DONE" if ok else "FAILED", to_host, self.clock(), error, move_id))
        return self.move(move_id)

    def move(self, move_id: int) -> MoveRecord:
        return record_from_row(MoveRecord, self._run("SELECT * FROM moves WHERE move_id = ?", (move_id,)).fetchone())

    def recent_move_seconds(self, action: str, limit: int) -> List[float]:
        """How long each of the latest ``limit`` moves of ``action`` that ended well lasted, in any session."""
        rows = self._run("SELECT started_at, ended_at FROM moves WHERE action = ? AND state = 'DONE'"
                         " AND ended_at IS NOT NULL ORDER BY move_id DESC LIMIT ?", (action, limit)).fetchall()
        durations = [seconds_between(row["started_at"], row["ended_at"]) for row in rows]
        return [seconds for seconds in durations if seconds is not None and seconds >= 0]

    def moves(self, session_id: str) -> List[MoveRecord]:
        self.session(session_id)
        rows = self._run("SELECT * FROM moves WHERE session_id = ? ORDER BY move_id", (session_id,)).fetchall()
        return [record_from_row(MoveRecord, row) for row in rows]
