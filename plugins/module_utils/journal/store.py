# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The maintenance session journal: what a session is doing, written before it is done.

It holds sessions, their hosts, the projects asked and their replies, the
affected instances, upgrade plugin runs, and a time-stamped event log.

Every change of state is committed before the action it announces, so that a
run killed at any point can be resumed from the journal: a host recorded as
disabled by the session is one the session must re-enable; a project recorded
as notified is one whose reply is awaited.

Embedded use keeps the journal in one SQLite file (WAL mode, so the API
service and a playbook run can share it); shared use (AWX with several
execution nodes, an API service on another host) gives a PostgreSQL DSN
instead, which needs psycopg 3. The same SQL serves both. The schema is
versioned; a journal written by a newer release is refused rather than misread.
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from dataclasses import replace
from typing import Callable, Dict, Iterator, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import utc_now
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.backends import (
    PostgreSQLBackend,
    SQLiteBackend,
    is_dsn,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    ActionRun,
    ConstraintNotFound,
    HostRecord,
    InstanceRecord,
    JournalError,
    MoveRecord,
    ProjectNotFound,
    ProjectRecord,
    Session,
    SessionNotFound,
    record_from_row,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.schema import MIGRATIONS, SCHEMA_VERSION
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import (
    INSTANCE_ACTIONS,
    SESSION_STATES,
)


# kind -> (table, key column); the kinds are the API's /v1/instance_group and /v1/instance.
_CONSTRAINT_TABLES = {
    "instance_group": ("instance_groups", "group_id"),
    "instance": ("instance_constraints", "instance_id"),
}


class Journal:
    """One journal (a SQLite file or a PostgreSQL database); every public method commits before it returns."""

    def __init__(self, location: str, clock: Callable[[], str] = utc_now) -> None:
        self.backend = PostgreSQLBackend(location) if is_dsn(location) else SQLiteBackend(location)
        self.path = self.backend.display
        self.clock = clock
        self._depth = 0
        self._migrate()

    def close(self) -> None:
        self.backend.db.close()

    def _run(self, sql: str, args: tuple = ()):
        if self.backend.placeholder != "?":
            sql = sql.replace("?", self.backend.placeholder)
        return self.backend.db.execute(sql, args)

    @contextmanager
    def transaction(self) -> Iterator["Journal"]:
        if self._depth:
            self._depth += 1  # nested: the outer transaction commits
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self.backend.db.execute(self.backend.begin)
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self.backend.db.execute("ROLLBACK")
            raise
        self._depth = 0
        self.backend.db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction():
            self.backend.lock_schema()
            self._run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = self._run("SELECT MAX(version) AS version FROM schema_version").fetchone()["version"] or 0
            if current > SCHEMA_VERSION:
                raise JournalError(
                    "journal %s has schema version %d, this release reads up to %d;"
                    " upgrade fenix.maintenance" % (self.path, current, SCHEMA_VERSION)
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    self._run(statement.replace("{serial}", self.backend.serial))
                self._run("INSERT INTO schema_version (version) VALUES (?)", (version,))

    @property
    def schema_version(self) -> int:
        return self._run("SELECT MAX(version) AS version FROM schema_version").fetchone()["version"]

    # sessions
    def create_session(
        self,
        hosts: List[str],
        workflow: str = "default",
        maintenance_at: Optional[str] = None,
        metadata: Optional[dict] = None,
        request: Optional[dict] = None,
        session_id: Optional[str] = None,
    ) -> Session:
        session_id = session_id or str(uuid.uuid4())
        now = self.clock()
        with self.transaction():
            if self._run("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)).fetchone():
                raise JournalError("session_id: %s exists already; resume it or choose another" % session_id)
            self._run(
                "INSERT INTO sessions VALUES (?, 'MAINTENANCE', ?, ?, ?, ?, NULL, ?, ?)",
                (session_id, workflow, maintenance_at, _dump(metadata), _dump(request), now, now),
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

    def delete_session(self, session_id: str) -> None:
        with self.transaction():
            self.session(session_id)
            self._run("DELETE FROM sessions WHERE session_id = ?", (session_id,))

    # hosts
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
            new = _merge(current, details, state=state, disabled_by_session=disabled_by_session,
                         maintained=maintained, updated_at=self.clock())
            self._run(
                "INSERT INTO hosts VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, host) DO UPDATE SET"
                " state = excluded.state, disabled_by_session = excluded.disabled_by_session,"
                " maintained = excluded.maintained, details = excluded.details, updated_at = excluded.updated_at",
                (session_id, host, new.state, int(new.disabled_by_session), int(new.maintained),
                 _dump(new.details), new.updated_at),
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

    def hosts_disabled_by_session(self, session_id: str) -> List[str]:
        return [record.host for record in self.hosts(session_id) if record.disabled_by_session]

    # projects
    def notify_project(
        self,
        session_id: str,
        project_id: str,
        state: str,
        instance_ids: Optional[List[str]] = None,
        allowed_actions: Optional[List[str]] = None,
        actions_at: Optional[str] = None,
        reply_at: Optional[str] = None,
    ) -> ProjectRecord:
        """Record that the project was asked about ``state``; earlier replies no longer count."""
        unknown = sorted(set(allowed_actions or ()) - set(INSTANCE_ACTIONS))
        if unknown:
            raise JournalError("allowed_actions: %s unknown; use %s" % (", ".join(unknown), ", ".join(INSTANCE_ACTIONS)))
        with self.transaction():
            self.session(session_id)
            row = self._run("SELECT state, notify_count FROM projects WHERE session_id = ? AND project_id = ?",
                            (session_id, project_id)).fetchone()
            count = row["notify_count"] + 1 if row and row["state"] == state else 1
            self._run(
                "INSERT INTO projects (session_id, project_id, state, notified_at, notify_count, instance_ids,"
                " allowed_actions, actions_at, reply_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (session_id, project_id) DO UPDATE SET state = excluded.state, reply = NULL,"
                " instance_actions = '{}', notified_at = excluded.notified_at, notify_count = excluded.notify_count,"
                " replied_at = NULL, instance_ids = excluded.instance_ids,"
                " allowed_actions = excluded.allowed_actions, actions_at = excluded.actions_at,"
                " reply_at = excluded.reply_at",
                (session_id, project_id, state, self.clock(), count, _dump_list(instance_ids),
                 _dump_list(allowed_actions), actions_at, reply_at),
            )
            self._run("UPDATE instances SET reply = NULL WHERE session_id = ? AND project_id = ?",
                      (session_id, project_id))
            self._event(session_id, "project.notified", project_id=project_id,
                        details={"state": state, "count": count, "instances": len(instance_ids or ())})
        return self.project(session_id, project_id)

    def record_reply(self, session_id: str, project_id: str, reply: str,
                     instance_actions: Optional[Dict[str, str]] = None) -> ProjectRecord:
        """Store a project's ACK_/NACK_ answer to the state it was asked about."""
        instance_actions = instance_actions or {}
        with self.transaction():
            project = self.project(session_id, project_id)
            self._check_reply(project, reply)
            unknown = sorted(set(instance_actions) - self._asked_instances(session_id, project))
            if unknown:
                raise JournalError("instance_actions: %s not instances of project %s in this session"
                                   % (", ".join(unknown), project_id))
            for action in instance_actions.values():
                self._check_action(project, action)
            self._store_reply(session_id, project_id, reply, instance_actions)
        return self.project(session_id, project_id)

    def record_instance_reply(self, session_id: str, project_id: str, instance_id: str, reply: str,
                              action: Optional[str] = None) -> ProjectRecord:
        """Store one instance's answer; the project has answered once all its asked instances have.

        The project's answer is then NACK if any instance said NACK, else ACK
        with every instance's action.
        """
        with self.transaction():
            project = self.project(session_id, project_id)
            self._check_reply(project, reply)
            asked = self._asked_instances(session_id, project)
            if instance_id not in asked:
                raise JournalError("instance %s is not an instance of project %s in this session"
                                   % (instance_id, project_id))
            if action is not None:
                self._check_action(project, action)
            self.set_instance(session_id, instance_id, project_id, action=action)
            self._run("UPDATE instances SET reply = ? WHERE session_id = ? AND instance_id = ?",
                      (reply, session_id, instance_id))
            self._event(session_id, "instance.reply", project_id=project_id, instance_id=instance_id,
                        details={"reply": reply, "action": action})
            replies = {record.instance_id: record for record in self.instances(session_id, project_id)
                       if record.reply is not None}
            if asked <= set(replies):
                nack = any(replies[iid].reply.startswith("NACK_") for iid in asked)
                actions = {iid: replies[iid].action for iid in sorted(asked) if replies[iid].action}
                self._store_reply(session_id, project_id, ("NACK_" if nack else "ACK_") + project.state, actions)
        return self.project(session_id, project_id)

    def renotify_project(self, session_id: str, project_id: str, reply_at: Optional[str]) -> Optional[ProjectRecord]:
        """Count one more notification of the same ask to a silent project; None if it has answered meanwhile.

        Unlike notify_project this never clears a reply, so a reply that lands
        just before the reminder is kept.
        """
        with self.transaction():
            self.project(session_id, project_id)
            updated = self._run(
                "UPDATE projects SET notify_count = notify_count + 1, reply_at = ?"
                " WHERE session_id = ? AND project_id = ? AND reply IS NULL",
                (reply_at, session_id, project_id),
            ).rowcount
            if not updated:
                return None
            project = self.project(session_id, project_id)
            self._event(session_id, "project.notified", project_id=project_id,
                        details={"state": project.state, "count": project.notify_count, "reminder": True})
        return project

    def record_policy_reply(self, session_id: str, project_id: str, action: Optional[str],
                            policy: str) -> Optional[ProjectRecord]:
        """ACK on behalf of a silent project, as the operator's ``policy`` says; None if it has answered meanwhile.

        Every asked instance gets ``action`` when the state offers actions. The
        event log says the operator's policy decided, not the project.
        """
        with self.transaction():
            project = self.project(session_id, project_id)
            actions = {}
            if action is not None and project.allowed_actions:
                self._check_action(project, action)
                actions = {iid: action for iid in sorted(self._asked_instances(session_id, project))}
            reply = "ACK_" + project.state
            updated = self._run(
                "UPDATE projects SET reply = ?, instance_actions = ?, replied_at = ?"
                " WHERE session_id = ? AND project_id = ? AND reply IS NULL",
                (reply, _dump(actions), self.clock(), session_id, project_id),
            ).rowcount
            if not updated:
                return None
            self._event(session_id, "project.reply", project_id=project_id,
                        details={"reply": reply, "instance_actions": actions, "decided_by": "policy",
                                 "policy": policy})
        return self.project(session_id, project_id)

    @staticmethod
    def _check_reply(project: ProjectRecord, reply: str) -> None:
        expected = ("ACK_" + project.state, "NACK_" + project.state)
        if reply not in expected:
            raise JournalError("state: %r does not answer %s; send %s or %s"
                               % (reply, project.state, expected[0], expected[1]))

    @staticmethod
    def _check_action(project: ProjectRecord, action: str) -> None:
        if action not in project.allowed_actions:
            allowed = ", ".join(project.allowed_actions) or "none"
            raise JournalError("instance action %r is not allowed in state %s; allowed: %s"
                               % (action, project.state, allowed))

    def _asked_instances(self, session_id: str, project: ProjectRecord) -> set:
        """The instances the project was asked about (all its instances in the session when none were named)."""
        if project.instance_ids:
            return set(project.instance_ids)
        return {record.instance_id for record in self.instances(session_id, project.project_id)}

    def _store_reply(self, session_id: str, project_id: str, reply: str, instance_actions: Dict[str, str]) -> None:
        self._run(
            "UPDATE projects SET reply = ?, instance_actions = ?, replied_at = ?"
            " WHERE session_id = ? AND project_id = ?",
            (reply, _dump(instance_actions), self.clock(), session_id, project_id),
        )
        self._event(session_id, "project.reply", project_id=project_id,
                    details={"reply": reply, "instance_actions": instance_actions})

    def project(self, session_id: str, project_id: str) -> ProjectRecord:
        self.session(session_id)
        row = self._run("SELECT * FROM projects WHERE session_id = ? AND project_id = ?",
                        (session_id, project_id)).fetchone()
        if row is None:
            raise ProjectNotFound("project %s is not part of session %s" % (project_id, session_id))
        return record_from_row(ProjectRecord, row)

    def projects(self, session_id: str) -> List[ProjectRecord]:
        self.session(session_id)
        rows = self._run("SELECT * FROM projects WHERE session_id = ? ORDER BY project_id",
                         (session_id,)).fetchall()
        return [record_from_row(ProjectRecord, row) for row in rows]

    # instances
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
            current = record_from_row(InstanceRecord, row) if row else InstanceRecord(instance_id, project_id, None, None, None, False)
            new = _merge(current, details, project_id=project_id, host=host, state=state,
                         action=action, action_done=action_done)
            self._run(
                "INSERT INTO instances (session_id, instance_id, project_id, host, state, action, action_done,"
                " details) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, instance_id)"
                " DO UPDATE SET project_id = excluded.project_id, host = excluded.host, state = excluded.state,"
                " action = excluded.action, action_done = excluded.action_done, details = excluded.details",
                (session_id, instance_id, project_id, new.host, new.state, new.action,
                 int(new.action_done), _dump(new.details)),
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

    # upgrade plugin runs
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
                      (state, self.clock(), _dump(result), run_id))
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

    # moves of instances
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

    def moves(self, session_id: str) -> List[MoveRecord]:
        self.session(session_id)
        rows = self._run("SELECT * FROM moves WHERE session_id = ? ORDER BY move_id", (session_id,)).fetchall()
        return [record_from_row(MoveRecord, row) for row in rows]

    # constraints (kept across sessions)
    def set_constraint(self, kind: str, key: str, project_id: str, body: dict) -> dict:
        """Store an instance group's or an instance's constraints (``kind`` names which)."""
        table, column = _CONSTRAINT_TABLES[kind]
        group_id = body.get("group_id") if kind == "instance" else None
        extra = ", group_id" if kind == "instance" else ""
        values = (key, project_id) + ((group_id,) if kind == "instance" else ()) + (_dump(body), self.clock())
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
        table, column = _CONSTRAINT_TABLES[kind]
        row = self._run("SELECT body FROM %s WHERE %s = ?" % (table, column), (key,)).fetchone()
        if row is None:
            raise ConstraintNotFound("%s %s has no constraints in the journal" % (kind.replace("_", " "), key))
        return json.loads(row["body"])

    def constraints(self, kind: str, project_id: Optional[str] = None) -> List[dict]:
        table, column = _CONSTRAINT_TABLES[kind]
        query, args = "SELECT body FROM %s" % table, ()
        if project_id is not None:
            query, args = query + " WHERE project_id = ?", (project_id,)
        return [json.loads(row["body"]) for row in self._run(query + " ORDER BY %s" % column, args).fetchall()]

    def delete_constraint(self, kind: str, key: str) -> None:
        table, column = _CONSTRAINT_TABLES[kind]
        with self.transaction():
            self.constraint(kind, key)
            self._run("DELETE FROM %s WHERE %s = ?" % (table, column), (key,))

    # events
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

    def _event(self, session_id, kind, host=None, project_id=None, instance_id=None, details=None) -> None:
        self._run(
            "INSERT INTO events (session_id, at, kind, host, project_id, instance_id, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, self.clock(), kind, host, project_id, instance_id, _dump(details)),
        )


def _merge(record, details: Optional[dict], **given):
    """The record with each given field that is not None, and ``details`` added to its own."""
    changes = {name: value for name, value in given.items() if value is not None}
    return replace(record, details=dict(record.details, **(details or {})), **changes)


def _dump(value: Optional[dict]) -> str:
    return json.dumps(value or {}, sort_keys=True)


def _dump_list(value: Optional[List[str]]) -> str:
    return json.dumps(list(value or []))


