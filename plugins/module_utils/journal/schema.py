# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The journal's tables, one list of statements per schema version.

A journal is migrated forward version by version when it is opened; one
written by a newer release is refused rather than misread. ``{serial}`` is
the backend's auto-increment key."""

from __future__ import annotations


SCHEMA_VERSION = 6


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
        event_id {serial},
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
        run_id {serial},
        session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
        plugin TEXT NOT NULL,
        type TEXT NOT NULL,
        host TEXT,
        state TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        result TEXT NOT NULL DEFAULT '{}')""",
)


# What a project was asked (for GET /v1/maintenance/{sid}/{pid} and reply
# checks), and the constraints projects set for the planner. Constraints
# outlive sessions: a VNFM sets them once for its instances.
_SCHEMA_V3 = (
    "ALTER TABLE projects ADD COLUMN instance_ids TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE projects ADD COLUMN allowed_actions TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE projects ADD COLUMN actions_at TEXT",
    "ALTER TABLE projects ADD COLUMN reply_at TEXT",
    "ALTER TABLE instances ADD COLUMN reply TEXT",
    """CREATE TABLE instance_groups (
        group_id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        body TEXT NOT NULL,
        updated_at TEXT NOT NULL)""",
    """CREATE TABLE instance_constraints (
        instance_id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        group_id TEXT,
        body TEXT NOT NULL,
        updated_at TEXT NOT NULL)""",
)


# Each move of an instance, with its start and end: an instance may move more
# than once in a session (off one host, later off the host it went to), and
# the run report draws each move where it started.
_SCHEMA_V4 = (
    """CREATE TABLE moves (
        move_id {serial},
        session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
        instance_id TEXT NOT NULL,
        project_id TEXT NOT NULL,
        action TEXT NOT NULL,
        from_host TEXT,
        target_host TEXT,
        to_host TEXT,
        state TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        error TEXT)""",
    "CREATE INDEX moves_by_session ON moves (session_id, move_id)",
)


# One run per session: the run that holds a session's lease renews it; another
# run is refused while it is renewed and takes it over once it has expired.
_SCHEMA_V5 = (
    """CREATE TABLE leases (
        session_id TEXT PRIMARY KEY REFERENCES sessions(session_id) ON DELETE CASCADE,
        holder TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        renewed_at TEXT NOT NULL,
        expires_at TEXT NOT NULL)""",
)


# A session's setting for projects the silent policy decided for: ask them again at later states
# (ask_again, what every earlier session did) or decide for them at once (decide_at_once).
_SCHEMA_V6 = (
    "ALTER TABLE sessions ADD COLUMN silent_projects TEXT NOT NULL DEFAULT 'ask_again'",
)


MIGRATIONS = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3, 4: _SCHEMA_V4, 5: _SCHEMA_V5, 6: _SCHEMA_V6}
