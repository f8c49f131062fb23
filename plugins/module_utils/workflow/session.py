# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Maintenance sessions: the Fenix create body checked, and hosts given back on delete."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import List, Optional, Tuple

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import seconds_between
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import (
    COMPUTE_BINARY,
    HostNotFound,
    apply_service,
    desired_service,
    find_compute_service,
    service_state,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import Session
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import PLUGIN_TYPES

# Fenix's own format (UTC), and ISO 8601 as other clients send it.
MAINTENANCE_AT_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S")


def normalize_maintenance_at(value: Optional[str]) -> Optional[str]:
    """maintenance_at as ISO 8601 UTC; ValueError names the accepted forms."""
    if not value:
        return None
    for form in MAINTENANCE_AT_FORMATS:
        try:
            moment = datetime.strptime(value, form)
        except ValueError:
            continue
        return moment.replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise ValueError(
        "maintenance_at: %r is not a time; write it in UTC as 'YYYY-MM-DD HH:MM:SS'"
        " (Fenix) or 'YYYY-MM-DDTHH:MM:SSZ'" % value
    )


def validate_actions(actions: List[dict]) -> None:
    for index, action in enumerate(actions):
        if not action.get("plugin"):
            raise ValueError("actions[%d].plugin: missing; name the upgrade plugin to run" % index)
        if action.get("type") not in PLUGIN_TYPES:
            raise ValueError("actions[%d].type: %r is not one of %s" % (index, action.get("type"), ", ".join(PLUGIN_TYPES)))


def resolve_hosts(conn, hosts: List[str]) -> List[str]:
    """The session's hosts: those given (each must run nova-compute), or every compute host."""
    known = sorted({service.host for service in conn.compute.services(binary=COMPUTE_BINARY)})
    if not hosts:
        return known
    unknown = sorted(set(hosts) - set(known))
    if unknown:
        raise ValueError("hosts: no %s service on %s; known hosts: %s"
                         % (COMPUTE_BINARY, ", ".join(unknown), ", ".join(known) or "none"))
    return sorted(set(hosts))


def restore_hosts(conn, journal: Journal, session_id: str, check_mode: bool,
                  only: Optional[List[str]] = None) -> Tuple[List[str], List[str]]:
    """Enable the hosts the session disabled; (enabled, left) with the hosts left alone.

    A host whose service no longer carries our reason was taken over by
    someone else since, and stays as it is.
    """
    enabled, left = [], []
    for host in journal.hosts_disabled_by_session(session_id):
        if only is not None and host not in only:
            continue
        try:
            service = find_compute_service(conn, host)
        except HostNotFound:
            left.append(host)
            continue
        current = service_state(service)
        if current.status == "enabled":
            continue
        if not current.disabled_by_us:
            left.append(host)
            continue
        if not check_mode:
            apply_service(conn, service, desired_service(current, "enabled", "", False, None))
            journal.set_host(session_id, host, disabled_by_session=False)
        enabled.append(host)
    return enabled, left


def state_before_failure(journal: Journal, session_id: str) -> str:
    """The state a failed session failed in, where resuming it takes it back to."""
    failures = [event["details"]["from"] for event in journal.events(session_id)
                if event["kind"] == "session.state" and event["details"].get("to") == "MAINTENANCE_FAILED"]
    # A session that failed more than once was last resumed into the state of its latest real failure: that one counts.
    states = [state for state in failures if state != "MAINTENANCE_FAILED"]
    return states[-1] if states else "MAINTENANCE"


def session_summary(journal: Journal, session: Session) -> dict:
    """The end-of-run figures: hosts done, moves by action, project reply latencies, total time."""
    hosts = journal.hosts(session.session_id)
    events = journal.events(session.session_id)
    moves: dict = {}
    asked_at: dict = {}
    projects: dict = {}
    for event in events:
        project_id = event["project_id"]
        if event["kind"] == "instance.action_done":
            action = event["details"].get("action") or "unknown"
            moves[action] = moves.get(action, 0) + 1
        elif event["kind"] == "project.notified" and project_id and not event["details"].get("reminder"):
            asked_at[project_id] = event["at"]
        elif event["kind"] == "project.reply":
            entry = projects.setdefault(project_id, {"replies": 0, "decided_by_policy": 0, "latencies": []})
            entry["replies"] += 1
            entry["decided_by_policy"] += event["details"].get("decided_by") == "policy"
            entry["last_reply"] = event["details"].get("reply")
            latency = seconds_between(asked_at.get(project_id), event["at"])
            if latency is not None:
                entry["latencies"].append(latency)
    for entry in projects.values():
        latencies = sorted(entry.pop("latencies"))
        entry["median_reply_seconds"] = latencies[len(latencies) // 2] if latencies else None
        entry["max_reply_seconds"] = latencies[-1] if latencies else None
    return {
        "session_id": session.session_id,
        "state": session.state,
        "reason": session.reason,
        "hosts_total": len(hosts),
        "hosts_maintained": sorted(record.host for record in hosts if record.maintained),
        "hosts_disabled_by_session": sorted(record.host for record in hosts if record.disabled_by_session),
        "moves": moves,
        "projects": projects,
        "started_at": session.created_at,
        "updated_at": session.updated_at,
        "total_seconds": seconds_between(session.created_at, session.updated_at),
    }


def session_view(journal: Journal, session: Session, with_events: bool = False) -> dict:
    view = asdict(session)
    view["hosts"] = [asdict(record) for record in journal.hosts(session.session_id)]
    view["projects"] = [asdict(record) for record in journal.projects(session.session_id)]
    view["instances"] = [asdict(record) for record in journal.instances(session.session_id)]
    view["action_runs"] = [asdict(record) for record in journal.action_runs(session.session_id)]
    view["moves"] = [asdict(record) for record in journal.moves(session.session_id)]
    if with_events:
        view["events"] = journal.events(session.session_id)
    view["summary"] = session_summary(journal, session)
    return view
