# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""What the journal holds, as records, how a record meets a row (JSON and flag columns), and the errors it raises."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import ASK_AGAIN


class JournalError(MaintenanceError):
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
    silent_projects: str = ASK_AGAIN  # what later asks do about projects the silent policy decided for


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
    instance_ids: List[str] = field(default_factory=list)
    allowed_actions: List[str] = field(default_factory=list)
    actions_at: Optional[str] = None
    reply_at: Optional[str] = None

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
    reply: Optional[str] = None


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


@dataclass
class MoveRecord:
    """One move of an instance off a host: MIGRATE, LIVE_MIGRATE or OWN_ACTION (the project moves it)."""
    move_id: int
    instance_id: str
    project_id: str
    action: str
    from_host: Optional[str]
    target_host: Optional[str]
    to_host: Optional[str]
    state: str
    started_at: str
    ended_at: Optional[str]
    error: Optional[str]


@dataclass
class Lease:
    """Which run holds a session, since when, and until when unless it renews (journal stamps, UTC)."""
    session_id: str
    holder: str
    acquired_at: str
    renewed_at: str
    expires_at: str


class ProjectNotFound(JournalError, LookupError):
    pass


class ConstraintNotFound(JournalError, LookupError):
    pass


class LeaseHeld(JournalError):
    """Another run holds the session's lease and keeps renewing it."""

    def __init__(self, message: str, lease: Lease) -> None:
        super().__init__(message)
        self.lease = lease


class LeaseLost(JournalError):
    """The run no longer holds the lease it renews: it was released, or taken over after it expired."""


# Columns kept as JSON text, and integer columns that are flags.
JSON_COLUMNS = frozenset(("metadata", "request", "details", "instance_actions", "result", "instance_ids",
                          "allowed_actions"))


FLAG_COLUMNS = frozenset(("disabled_by_session", "maintained", "action_done"))


def record_from_row(cls, row):
    """A record dataclass from a row: its fields are named like the columns."""
    values = {}
    for item in fields(cls):
        value = row[item.name]
        if item.name in JSON_COLUMNS:
            value = json.loads(value)
        elif item.name in FLAG_COLUMNS:
            value = bool(value)
        values[item.name] = value
    return cls(**values)


def merge_record(record, details: Optional[dict], **given):
    """The record with each given field that is not None, and ``details`` added to its own."""
    changes = {name: value for name, value in given.items() if value is not None}
    return replace(record, details=dict(record.details, **(details or {})), **changes)


def dump_json(value: Optional[dict]) -> str:
    """A JSON column's text (sorted keys, so equal values are equal text)."""
    return json.dumps(value or {}, sort_keys=True)


def dump_json_list(value: Optional[List[str]]) -> str:
    return json.dumps(list(value or []))
