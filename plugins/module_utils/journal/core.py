# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The journal's core: one connection, its transactions, and the schema brought up to date.

Every part of the journal (sessions, hosts, projects, ...) is a mixin on this
core and talks to the database only through ``_run`` and ``transaction``; the
SQL is written once, with ``?`` placeholders, for both backends.

One journal may be shared by threads (migrations run in parallel and record
each move). A re-entrant lock is held for the whole of the outermost
transaction and for each single statement, so a thread's transaction never
interleaves with another thread's statements on the shared connection; a
statement's rows are read while the lock is held.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import utc_now
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.backends import (
    PostgreSQLBackend,
    SQLiteBackend,
    is_dsn,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import JournalError
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.schema import MIGRATIONS, SCHEMA_VERSION


class StatementResult:
    """A statement's rows and row count, read before the connection is handed to another thread."""

    def __init__(self, cursor) -> None:
        # Rows first: SQLite counts the rows of a RETURNING statement only once they are read.
        self.rows: List[Any] = cursor.fetchall() if cursor.description is not None else []
        self.rowcount: int = cursor.rowcount

    def fetchone(self) -> Optional[Any]:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> List[Any]:
        return list(self.rows)


class JournalCore:
    """The connection (SQLite or PostgreSQL), thread-safe transactions, and the schema version."""

    def __init__(self, location: str, clock: Callable[[], str] = utc_now) -> None:
        self.backend = PostgreSQLBackend(location) if is_dsn(location) else SQLiteBackend(location)
        self.path = self.backend.display
        self.clock = clock
        self._lock = threading.RLock()
        self._depth = 0
        self._migrate()

    def close(self) -> None:
        self.backend.db.close()

    def _run(self, sql: str, args: tuple = ()) -> StatementResult:
        if self.backend.placeholder != "?":
            sql = sql.replace("?", self.backend.placeholder)
        with self._lock:
            return StatementResult(self.backend.db.execute(sql, args))

    @contextmanager
    def transaction(self) -> Iterator["JournalCore"]:
        """All statements inside commit together; a nested transaction joins the outer one."""
        with self._lock:
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
