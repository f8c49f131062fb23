# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The journal's upgrade plugin runs: each run of an upgrade plugin, from its start to its result."""

from __future__ import annotations

from typing import List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.core import JournalCore
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    ActionRun,
    JournalError,
    dump_json,
    record_from_row,
)


class ActionRunsMixin(JournalCore):
    """The action_runs table (part of Journal, which supplies ``session`` and ``_event``)."""

    def start_action(self, session_id: str, plugin: str, action_type: str, host: Optional[str] = None) -> int:
        with self.transaction():
            self.session(session_id)
            run_id = self._run(
                "INSERT INTO action_runs (session_id, plugin, type, host, state, started_at)"
                " VALUES (?, ?, ?, ?, 'RUNNING', ?) RETURNING run_id",
                (session_id, plugin, action_type, host, self.clock()),
            ).fetchone()["run_id"]
            self._event(session_id, "action.started", host=host, details={"plugin": plugin, "type": action_type})
            return run_id

    def finish_action(self, run_id: int, ok: bool, result: Optional[dict] = None) -> ActionRun:
        state = "DONE" if ok else "FAILED"
        with self.transaction():
            row = self._run("SELECT session_id, plugin, host FROM action_runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise JournalError("run_id: no upgrade plugin run %s in the journal" % run_id)
            self._run("UPDATE action_runs SET state = ?, ended_at = ?, result = ? WHERE run_id = ?",
                      (state, self.clock(), dump_json(result), run_id))
            self._event(row["session_id"], "action." + state.lower(), host=row["host"],
                        details={"plugin": row["plugin"], "result": result or {}})
        return self.action_run(run_id)

    def action_run(self, run_id: int) -> ActionRun:
        return record_from_row(ActionRun, self._run("SELECT * FROM action_runs WHERE run_id = ?", (run_id,)).fetchone())

    def action_runs(self, session_id: str) -> List[ActionRun]:
        self.session(session_id)
        rows = self._run("SELECT * FROM action_runs WHERE session_id = ? ORDER BY run_id",
                         (session_id,)).fetchall()
        return [record_from_row(ActionRun, row) for row in rows]
