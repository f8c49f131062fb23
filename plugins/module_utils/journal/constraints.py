# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The journal's constraints: instance groups' and instances' constraints, kept across sessions.

They are the bodies of the API's /v1/instance_group and /v1/instance, stored as given.
"""

from __future__ import annotations

import json
from typing import List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.core import JournalCore
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ConstraintNotFound, dump_json

# kind -> (table, key column); the kinds are the API's /v1/instance_group and /v1/instance.
CONSTRAINT_TABLES = {
    "instance_group": ("instance_groups", "group_id"),
    "instance": ("instance_constraints", "instance_id"),
}


class ConstraintsMixin(JournalCore):
    """The instance_groups and instance_constraints tables (part of Journal)."""

    def set_constraint(self, kind: str, key: str, project_id: str, body: dict) -> dict:
        """Store an instance group's or an instance's constraints (``kind`` names which)."""
        table, column = CONSTRAINT_TABLES[kind]
        group_id = body.get("group_id") if kind == "instance" else None
        extra = ", group_id" if kind == "instance" else ""
        values = (key, project_id) + ((group_id,) if kind == "instance" else ()) + (dump_json(body), self.clock())
        with self.transaction():
            self._run(
                "INSERT INTO %s (%s, project_id%s, body, updated_at) VALUES (%s)"
                " ON CONFLICT (%s) DO UPDATE SET project_id = excluded.project_id,%s body = excluded.body,"
                " updated_at = excluded.updated_at"
                % (table, column, extra, ", ".join("?" * len(values)), column,
                   " group_id = excluded.group_id," if extra else ""),
                values,
            )
        return self.constraint(kind, key)

    def constraint(self, kind: str, key: str) -> dict:
        table, column = CONSTRAINT_TABLES[kind]
        row = self._run("SELECT body FROM %s WHERE %s = ?" % (table, column), (key,)).fetchone()
        if row is None:
            raise ConstraintNotFound("%s %s has no constraints in the journal" % (kind.replace("_", " "), key))
        return json.loads(row["body"])

    def constraints(self, kind: str, project_id: Optional[str] = None) -> List[dict]:
        table, column = CONSTRAINT_TABLES[kind]
        query, args = "SELECT body FROM %s" % table, ()
        if project_id is not None:
            query, args = query + " WHERE project_id = ?", (project_id,)
        return [json.loads(row["body"]) for row in self._run(query + " ORDER BY %s" % column, args).fetchall()]

    def delete_constraint(self, kind: str, key: str) -> None:
        table, column = CONSTRAINT_TABLES[kind]
        with self.transaction():
            self.constraint(kind, key)
            self._run("DELETE FROM %s WHERE %s = ?" % (table, column), (key,))
