# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The journal's instances: each affected instance of a session, its action, and whether it is done."""

from __future__ import annotations

from typing import List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.core import JournalCore
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    InstanceRecord,
    dump_json,
    merge_record,
    record_from_row,
)


class InstancesMixin(JournalCore):
    """The instances table (part of Journal, which supplies ``session`` and ``_event``)."""

    def set_instance(
        self,
        session_id: str,
        instance_id: str,
        project_id: str,
        host: Optional[str] = None,
        state: Optional[str] = None,
        action: Optional[str] = None,
        action_done: Optional[bool] = None,
        details: Optional[dict] = None,
    ) -> InstanceRecord:
        """Record an affected instance (fields left None keep their value)."""
        with self.transaction():
            self.session(session_id)
            row = self._run("SELECT * FROM instances WHERE session_id = ? AND instance_id = ?",
                            (session_id, instance_id)).fetchone()
            current = (record_from_row(InstanceRecord, row) if row
                       else InstanceRecord(instance_id, project_id, None, None, None, False))
            new = merge_record(current, details, project_id=project_id, host=host, state=state,
                               action=action, action_done=action_done)
            self._run(
                "INSERT INTO instances (session_id, instance_id, project_id, host, state, action, action_done,"
                " details) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, instance_id)"
                " DO UPDATE SET project_id = excluded.project_id, host = excluded.host, state = excluded.state,"
                " action = excluded.action, action_done = excluded.action_done, details = excluded.details",
                (session_id, instance_id, project_id, new.host, new.state, new.action,
                 int(new.action_done), dump_json(new.details)),
            )
            if new.action_done and not current.action_done:
                self._event(session_id, "instance.action_done", host=new.host, project_id=project_id,
                            instance_id=instance_id, details={"action": new.action})
        return new

    def instances(self, session_id: str, project_id: Optional[str] = None) -> List[InstanceRecord]:
        self.session(session_id)
        query, args = "SELECT * FROM instances WHERE session_id = ?", [session_id]
        if project_id is not None:
            query, args = query + " AND project_id = ?", args + [project_id]
        rows = self._run(query + " ORDER BY instance_id", tuple(args)).fetchall()
        return [record_from_row(InstanceRecord, row) for row in rows]
