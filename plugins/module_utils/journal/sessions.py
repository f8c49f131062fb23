# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The journal's sessions: one row per maintenance session, with its state and the request that made it."""

from __future__ import annotations

import uuid
from typing import List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.core import JournalCore
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    JournalError,
    Session,
    SessionNotFound,
    dump_json,
    record_from_row,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import (
    ASK_AGAIN,
    SESSION_STATES,
    SILENT_PROJECTS,
)


def check_silent_projects(value: str) -> None:
    """The session setting for projects the silent policy decided for; the error names the choices."""
    if value not in SILENT_PROJECTS:
        raise JournalError("silent_projects: %r is not a choice; use %s (ask the project again at each later"
                           " state) or %s (let the silent policy decide for it at once at later states)"
                           % (value, SILENT_PROJECTS[0], SILENT_PROJECTS[1]))


class SessionsMixin(JournalCore):
    """The sessions table (part of Journal, which supplies ``_event`` and ``sessions_holding``)."""

    def create_session(
        self,
        hosts: List[str],
        workflow: str = "default",
        maintenance_at: Optional[str] = None,
        metadata: Optional[dict] = None,
        request: Optional[dict] = None,
        session_id: Optional[str] = None,
        silent_projects: str = ASK_AGAIN,
        exclusive: bool = False,
    ) -> Session:
        """A new session in state MAINTENANCE, with each of its hosts PENDING.

        ``exclusive``: refused when another session not ended has one of the hosts.
        """
        check_silent_projects(silent_projects)
        session_id = session_id or str(uuid.uuid4())
        now = self.clock()
        with self.transaction():
            if self._run("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)).fetchone():
                raise JournalError("session_id: %s exists already; resume it or choose another" % session_id)
            held = self.sessions_holding(hosts) if exclusive else {}
            if held:
                raise JournalError("hosts: %s; end that session or leave its hosts out" % "; ".join(
                    "%s held by running session %s" % (", ".join(names), other) for other, names in sorted(held.items())))
            self._run(
                "INSERT INTO sessions (session_id, state, workflow, maintenance_at, metadata, request, reason,"
                " created_at, updated_at, silent_projects) VALUES (?, 'MAINTENANCE', ?, ?, ?, ?, NULL, ?, ?, ?)",
                (session_id, workflow, maintenance_at, dump_json(metadata), dump_json(request), now, now,
                 silent_projects),
            )
            for host in hosts:
                self._run(
                    "INSERT INTO hosts (session_id, host, state, updated_at) VALUES (?, ?, 'PENDING', ?)",
                    (session_id, host, now),
                )
            self._event(session_id, "session.created", details={"hosts": list(hosts)})
        return self.session(session_id)

    def session(self, session_id: str) -> Session:
        row = self._run("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        if row is None:
            raise SessionNotFound("session %s is not in the journal %s" % (session_id, self.path))
        return record_from_row(Session, row)

    def sessions(self) -> List[Session]:
        rows = self._run("SELECT * FROM sessions ORDER BY created_at, session_id").fetchall()
        return [record_from_row(Session, row) for row in rows]

    def finished_session_ids(self, limit: int) -> List[str]:
        """The latest ``limit`` sessions that ended MAINTENANCE_DONE, the latest first."""
        rows = self._run("SELECT session_id FROM sessions WHERE state = 'MAINTENANCE_DONE'"
                         " ORDER BY updated_at DESC, session_id LIMIT ?", (limit,)).fetchall()
        return [row["session_id"] for row in rows]

    def set_session_state(self, session_id: str, state: str, reason: Optional[str] = None) -> Session:
        if state not in SESSION_STATES:
            raise JournalError("state: %r is not a session state; use one of %s" % (state, ", ".join(SESSION_STATES)))
        with self.transaction():
            previous = self.session(session_id)
            self._run(
                "UPDATE sessions SET state = ?, reason = ?, updated_at = ? WHERE session_id = ?",
                (state, reason, self.clock(), session_id),
            )
            self._event(session_id, "session.state",
                        details={"from": previous.state, "to": state, "reason": reason})
        return self.session(session_id)

    def set_silent_projects(self, session_id: str, silent_projects: str) -> Session:
        """Change what later asks do about projects the silent policy decided for (a resumed run may)."""
        check_silent_projects(silent_projects)
        with self.transaction():
            previous = self.session(session_id)
            if previous.silent_projects != silent_projects:
                self._run("UPDATE sessions SET silent_projects = ?, updated_at = ? WHERE session_id = ?",
                          (silent_projects, self.clock(), session_id))
                self._event(session_id, "session.setting",
                            details={"silent_projects": silent_projects, "from": previous.silent_projects})
        return self.session(session_id)

    def delete_session(self, session_id: str) -> None:
        with self.transaction():
            self.session(session_id)
            self._run("DELETE FROM sessions WHERE session_id = ?", (session_id,))
