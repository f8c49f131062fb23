# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The journal's hosts: each host of a session, its state, and whether the session disabled it.

A host recorded as disabled by the session is one the session must re-enable.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.core import JournalCore
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    HostRecord,
    dump_json,
    merge_record,
    record_from_row,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import MAINTENANCE_DONE, MAINTENANCE_FAILED


class HostsMixin(JournalCore):
    """The hosts table (part of Journal, which supplies ``session`` and ``_event``)."""

    def set_host(
        self,
        session_id: str,
        host: str,
        state: Optional[str] = None,
        disabled_by_session: Optional[bool] = None,
        maintained: Optional[bool] = None,
        details: Optional[dict] = None,
    ) -> HostRecord:
        """Record a host's new state (fields left None keep their value)."""
        with self.transaction():
            self.session(session_id)
            row = self._run("SELECT * FROM hosts WHERE session_id = ? AND host = ?", (session_id, host)).fetchone()
            current = record_from_row(HostRecord, row) if row else HostRecord(host, "PENDING", False, False)
            new = merge_record(current, details, state=state, disabled_by_session=disabled_by_session,
                               maintained=maintained, updated_at=self.clock())
            self._run(
                "INSERT INTO hosts VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, host) DO UPDATE SET"
                " state = excluded.state, disabled_by_session = excluded.disabled_by_session,"
                " maintained = excluded.maintained, details = excluded.details, updated_at = excluded.updated_at",
                (session_id, host, new.state, int(new.disabled_by_session), int(new.maintained),
                 dump_json(new.details), new.updated_at),
            )
            changes = {name: getattr(new, name) for name in ("state", "disabled_by_session", "maintained")
                       if getattr(new, name) != getattr(current, name) or row is None}
            if changes:
                self._event(session_id, "host." + ("state" if "state" in changes else "flags"),
                            host=host, details=changes)
        return new

    def hosts(self, session_id: str) -> List[HostRecord]:
        self.session(session_id)
        rows = self._run("SELECT * FROM hosts WHERE session_id = ? ORDER BY host", (session_id,)).fetchall()
        return [record_from_row(HostRecord, row) for row in rows]

    def sessions_holding(self, hosts: List[str]) -> Dict[str, List[str]]:
        """The sessions not ended (neither done nor failed) that have any of ``hosts``: session id to those hosts."""
        wanted = set(hosts)
        rows = self._run("SELECT hosts.session_id, hosts.host FROM hosts JOIN sessions"
                         " ON sessions.session_id = hosts.session_id WHERE sessions.state NOT IN (?, ?)"
                         " ORDER BY hosts.session_id, hosts.host", (MAINTENANCE_DONE, MAINTENANCE_FAILED)).fetchall()
        holding: Dict[str, List[str]] = {}
        for row in rows:
            if row["host"] in wanted:
                holding.setdefault(row["session_id"], []).append(row["host"])
        return holding

    def hosts_disabled_by_session(self, session_id: str) -> List[str]:
        return [record.host for record in self.hosts(session_id) if record.disabled_by_session]
