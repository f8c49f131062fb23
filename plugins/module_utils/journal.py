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
service and a playbook run can share it). The schema is versioned; a journal
written by a newer release is refused rather than misread.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional

SCHEMA_VERSION = 2

# The Fenix session states, in the order a session goes through them.
SESSION_STATES = (
    "MAINTENANCE",
    "SCALE_IN",
    "PREPARE_MAINTENANCE",
    "START_MAINTENANCE",
    "PLANNED_MAINTENANCE",
    "MAINTENANCE_COMPLETE",
    "MAINTENANCE_DONE",
    "MAINTENANCE_FAILED",
)

_SCHEMA_V1 = (
    """CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        workflow TEXT NOT NULL,
        maintenance_at TEXT,
        metadata TEXT NOT NULL,
        request TEXT NOT NULL,
        reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)""",
    """CREATE TABLE hosts (
        session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
        host TEXT NOT NULL,
        state TEXT NOT NULL,
        disabled_by_session INTEGER NOT NULL DEFAULT 0,
        maintained INTEGER NOT NULL DEFAULT 0,
        details TEXT NOT NULL DEFAULT '{}',
        updated_at TEXT NOT NULL,
        PRIMARY KEY (session_id, host))""",
    """CREATE TABLE events (
        event_id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        host TEXT,
        project_id TEXT,
        instance_id TEXT,
        details TEXT NOT NULL DEFAULT '{}')""",
    "CREATE INDEX events_by_session ON events (session_id, event_id)",
)

_SCHEMA_V2 = (
    """CREATE TABLE projects (
        session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
        project_id TEXT NOT NULL,
        state TEXT NOT NULL,
        reply TEXT,
        instance_actions TEXT NOT NULL DEFAULT '{}',
        notified_at TEXT NOT NULL,
        notify_count INTEGER NOT NULL DEFAULT 1,
        replied_at TEXT,
        PRIMARY KEY (session_id, project_id))""",
    """CREATE TABLE instances (
        session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
        instance_id TEXT NOT NULL,
        project_id TEXT NOT NULL,
        host TEXT,
        state TEXT,
        action TEXT,
        action_done INTEGER NOT NULL DEFAULT 0,
        details TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (session_id, instance_id))""",
    """CREATE TABLE action_runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
        plugin TEXT NOT NULL,
        type TEXT NOT NULL,
        host TEXT,
        state TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        result TEXT NOT NULL DEFAULT '{}')""",
)

MIGRATIONS = {1: _SCHEMA_V1, 2: _SCHEMA_V2}


class JournalError(Exception):
    """The journal cannot be used as asked."""


class SessionNotFound(JournalError, LookupError):
    pass


@dataclass
class Session:
    session_id: str
    state: str
    workflow: str
    maintenance_at: Optional[str]
    metadata: Dict[str, Any]
    request: Dict[str, Any]
    reason: Optional[str]
    created_at: str
    updated_at: str


@dataclass
class HostRecord:
    host: str
    state: str
    disabled_by_session: bool
    maintained: bool
    details: Dict[str, Any] = field(default_factory=dict)
    updated_at: Optional[str] = None


@dataclass
class ProjectRecord:
    project_id: str
    state: str
    reply: Optional[str]
    instance_actions: Dict[str, str]
    notified_at: str
    notify_count: int
    replied_at: Optional[str]

    @property
    def answered(self) -> bool:
        return self.reply is not None


@dataclass
class InstanceRecord:
    instance_id: str
    project_id: str
    host: Optional[str]
    state: Optional[str]
    action: Optional[str]
    action_done: bool
    details: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ActionRun:
    run_id: int
    plugin: str
    type: str
    host: Optional[str]
    state: str
    started_at: str
    ended_at: Optional[str]
    result: Dict[str, Any]


class ProjectNotFound(JournalError, LookupError):
    pass


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Journal:
    """One journal file; every public method commits before it returns."""

    def __init__(self, path: str, clock: Callable[[], str] = utc_now) -> None:
        self.path = path
        self.clock = clock
        # isolation_level=None: transactions are begun explicitly, so a write
        # is on disk when the method that made it returns.
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        if self._db.in_transaction:
            yield self._db  # nested: the outer transaction commits
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT MAX(version) AS version FROM schema_version").fetchone()
            current = row["version"] or 0
            if current > SCHEMA_VERSION:
                raise JournalError(
                    "journal %s has schema version %d, this release reads up to %d;"
                    " upgrade fenix.maintenance" % (self.path, current, SCHEMA_VERSION)
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    @property
    def schema_version(self) -> int:
        return self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]

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
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)).fetchone():
                raise JournalError("session_id: %s exists already; resume it or choose another" % session_id)
            db.execute(
                "INSERT INTO sessions VALUES (?, 'MAINTENANCE', ?, ?, ?, ?, NULL, ?, ?)",
                (session_id, workflow, maintenance_at, _dump(metadata), _dump(request), now, now),
            )
            for host in hosts:
                db.execute(
                    "INSERT INTO hosts (session_id, host, state, updated_at) VALUES (?, ?, 'PENDING', ?)",
                    (session_id, host, now),
                )
            self._event(db, session_id, "session.created", details={"hosts": list(hosts)})
        return self.session(session_id)

    def session(self, session_id: str) -> Session:
        row = self._db.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        if row is None:
            raise SessionNotFound("session %s is not in the journal %s" % (session_id, self.path))
        return _session(row)

    def sessions(self) -> List[Session]:
        rows = self._db.execute("SELECT * FROM sessions ORDER BY created_at, session_id").fetchall()
        return [_session(row) for row in rows]

    def set_session_state(self, session_id: str, state: str, reason: Optional[str] = None) -> Session:
        if state not in SESSION_STATES:
            raise JournalError("state: %r is not a session state; use one of %s" % (state, ", ".join(SESSION_STATES)))
        with self.transaction() as db:
            previous = self.session(session_id)
            db.execute(
                "UPDATE sessions SET state = ?, reason = ?, updated_at = ? WHERE session_id = ?",
                (state, reason, self.clock(), session_id),
            )
            self._event(db, session_id, "session.state",
                        details={"from": previous.state, "to": state, "reason": reason})
        return self.session(session_id)

    def delete_session(self, session_id: str) -> None:
        with self.transaction() as db:
            self.session(session_id)
            db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))

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
        with self.transaction() as db:
            self.session(session_id)
            row = db.execute("SELECT * FROM hosts WHERE session_id = ? AND host = ?", (session_id, host)).fetchone()
            current = _host(row) if row else HostRecord(host, "PENDING", False, False)
            new = HostRecord(
                host=host,
                state=current.state if state is None else state,
                disabled_by_session=current.disabled_by_session if disabled_by_session is None else disabled_by_session,
                maintained=current.maintained if maintained is None else maintained,
                details=dict(current.details, **(details or {})),
                updated_at=self.clock(),
            )
            db.execute(
                "INSERT OR REPLACE INTO hosts VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, host, new.state, int(new.disabled_by_session), int(new.maintained),
                 _dump(new.details), new.updated_at),
            )
            changes = {name: getattr(new, name) for name in ("state", "disabled_by_session", "maintained")
                       if getattr(new, name) != getattr(current, name) or row is None}
            if changes:
                self._event(db, session_id, "host." + ("state" if "state" in changes else "flags"),
                            host=host, details=changes)
        return new

    def hosts(self, session_id: str) -> List[HostRecord]:
        self.session(session_id)
        rows = self._db.execute("SELECT * FROM hosts WHERE session_id = ? ORDER BY host", (session_id,)).fetchall()
        return [_host(row) for row in rows]

    def hosts_disabled_by_session(self, session_id: str) -> List[str]:
        return [record.host for record in self.hosts(session_id) if record.disabled_by_session]

    # projects
    def notify_project(self, session_id: str, project_id: str, state: str) -> ProjectRecord:
        """Record that the project was asked about ``state``; an earlier reply no longer counts."""
        with self.transaction() as db:
            self.session(session_id)
            row = db.execute("SELECT state, notify_count FROM projects WHERE session_id = ? AND project_id = ?",
                             (session_id, project_id)).fetchone()
            count = row["notify_count"] + 1 if row and row["state"] == state else 1
            db.execute(
                "INSERT OR REPLACE INTO projects VALUES (?, ?, ?, NULL, '{}', ?, ?, NULL)",
                (session_id, project_id, state, self.clock(), count),
            )
            self._event(db, session_id, "project.notified", project_id=project_id,
                        details={"state": state, "count": count})
        return self.project(session_id, project_id)

    def record_reply(self, session_id: str, project_id: str, reply: str,
                     instance_actions: Optional[Dict[str, str]] = None) -> ProjectRecord:
        """Store a project's ACK_/NACK_ answer to the state it was asked about."""
        with self.transaction() as db:
            project = self.project(session_id, project_id)
            expected = ("ACK_" + project.state, "NACK_" + project.state)
            if reply not in expected:
                raise JournalError("state: %r does not answer %s; send %s or %s"
                                   % (reply, project.state, expected[0], expected[1]))
            known = {record.instance_id for record in self.instances(session_id, project_id)}
            unknown = sorted(set(instance_actions or {}) - known)
            if unknown:
                raise JournalError("instance_actions: %s not instances of project %s in this session"
                                   % (", ".join(unknown), project_id))
            db.execute(
                "UPDATE projects SET reply = ?, instance_actions = ?, replied_at = ?"
                " WHERE session_id = ? AND project_id = ?",
                (reply, _dump(instance_actions), self.clock(), session_id, project_id),
            )
            self._event(db, session_id, "project.reply", project_id=project_id,
                        details={"reply": reply, "instance_actions": instance_actions or {}})
        return self.project(session_id, project_id)

    def project(self, session_id: str, project_id: str) -> ProjectRecord:
        self.session(session_id)
        row = self._db.execute("SELECT * FROM projects WHERE session_id = ? AND project_id = ?",
                               (session_id, project_id)).fetchone()
        if row is None:
            raise ProjectNotFound("project %s is not part of session %s" % (project_id, session_id))
        return _project(row)

    def projects(self, session_id: str) -> List[ProjectRecord]:
        self.session(session_id)
        rows = self._db.execute("SELECT * FROM projects WHERE session_id = ? ORDER BY project_id",
                                (session_id,)).fetchall()
        return [_project(row) for row in rows]

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
        with self.transaction() as db:
            self.session(session_id)
            row = db.execute("SELECT * FROM instances WHERE session_id = ? AND instance_id = ?",
                             (session_id, instance_id)).fetchone()
            current = _instance(row) if row else InstanceRecord(instance_id, project_id, None, None, None, False)
            new = InstanceRecord(
                instance_id=instance_id,
                project_id=project_id,
                host=current.host if host is None else host,
                state=current.state if state is None else state,
                action=current.action if action is None else action,
                action_done=current.action_done if action_done is None else action_done,
                details=dict(current.details, **(details or {})),
            )
            db.execute(
                "INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, instance_id, project_id, new.host, new.state, new.action,
                 int(new.action_done), _dump(new.details)),
            )
            if new.action_done and not current.action_done:
                self._event(db, session_id, "instance.action_done", host=new.host, project_id=project_id,
                            instance_id=instance_id, details={"action": new.action})
        return new

    def instances(self, session_id: str, project_id: Optional[str] = None) -> List[InstanceRecord]:
        self.session(session_id)
        query, args = "SELECT * FROM instances WHERE session_id = ?", [session_id]
        if project_id is not None:
            query, args = query + " AND project_id = ?", args + [project_id]
        rows = self._db.execute(query + " ORDER BY instance_id", args).fetchall()
        return [_instance(row) for row in rows]

    # upgrade plugin runs
    def start_action(self, session_id: str, plugin: str, action_type: str, host: Optional[str] = None) -> int:
        with self.transaction() as db:
            self.session(session_id)
            cursor = db.execute(
                "INSERT INTO action_runs (session_id, plugin, type, host, state, started_at)"
                " VALUES (?, ?, ?, ?, 'RUNNING', ?)",
                (session_id, plugin, action_type, host, self.clock()),
            )
            self._event(db, session_id, "action.started", host=host, details={"plugin": plugin, "type": action_type})
            return cursor.lastrowid

    def finish_action(self, run_id: int, ok: bool, result: Optional[dict] = None) -> ActionRun:
        state = "DONE" if ok else "FAILED"
        with self.transaction() as db:
            row = db.execute("SELECT session_id, plugin, host FROM action_runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise JournalError("run_id: no upgrade plugin run %s in the journal" % run_id)
            db.execute("UPDATE action_runs SET state = ?, ended_at = ?, result = ? WHERE run_id = ?",
                       (state, self.clock(), _dump(result), run_id))
            self._event(db, row["session_id"], "action." + state.lower(), host=row["host"],
                        details={"plugin": row["plugin"], "result": result or {}})
        return self.action_run(run_id)

    def action_run(self, run_id: int) -> ActionRun:
        return _action_run(self._db.execute("SELECT * FROM action_runs WHERE run_id = ?", (run_id,)).fetchone())

    def action_runs(self, session_id: str) -> List[ActionRun]:
        self.session(session_id)
        rows = self._db.execute("SELECT * FROM action_runs WHERE session_id = ? ORDER BY run_id",
                                (session_id,)).fetchall()
        return [_action_run(row) for row in rows]

    # events
    def record_event(self, session_id: str, kind: str, host: Optional[str] = None,
                     project_id: Optional[str] = None, instance_id: Optional[str] = None,
                     details: Optional[dict] = None) -> None:
        with self.transaction() as db:
            self.session(session_id)
            self._event(db, session_id, kind, host, project_id, instance_id, details)

    def events(self, session_id: str, after: int = 0) -> List[dict]:
        rows = self._db.execute(
            "SELECT * FROM events WHERE session_id = ? AND event_id > ? ORDER BY event_id", (session_id, after)
        ).fetchall()
        return [dict(row, details=json.loads(row["details"])) for row in rows]

    def _event(self, db, session_id, kind, host=None, project_id=None, instance_id=None, details=None) -> None:
        db.execute(
            "INSERT INTO events (session_id, at, kind, host, project_id, instance_id, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, self.clock(), kind, host, project_id, instance_id, _dump(details)),
        )


def _dump(value: Optional[dict]) -> str:
    return json.dumps(value or {}, sort_keys=True)


def _session(row: sqlite3.Row) -> Session:
    return Session(
        session_id=row["session_id"],
        state=row["state"],
        workflow=row["workflow"],
        maintenance_at=row["maintenance_at"],
        metadata=json.loads(row["metadata"]),
        request=json.loads(row["request"]),
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _host(row: sqlite3.Row) -> HostRecord:
    return HostRecord(
        host=row["host"],
        state=row["state"],
        disabled_by_session=bool(row["disabled_by_session"]),
        maintained=bool(row["maintained"]),
        details=json.loads(row["details"]),
        updated_at=row["updated_at"],
    )


def _project(row: sqlite3.Row) -> ProjectRecord:
    return ProjectRecord(
        project_id=row["project_id"],
        state=row["state"],
        reply=row["reply"],
        instance_actions=json.loads(row["instance_actions"]),
        notified_at=row["notified_at"],
        notify_count=row["notify_count"],
        replied_at=row["replied_at"],
    )


def _instance(row: sqlite3.Row) -> InstanceRecord:
    return InstanceRecord(
        instance_id=row["instance_id"],
        project_id=row["project_id"],
        host=row["host"],
        state=row["state"],
        action=row["action"],
        action_done=bool(row["action_done"]),
        details=json.loads(row["details"]),
    )


def _action_run(row: sqlite3.Row) -> ActionRun:
    return ActionRun(
        run_id=row["run_id"],
        plugin=row["plugin"],
        type=row["type"],
        host=row["host"],
        state=row["state"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        result=json.loads(row["result"]),
    )
