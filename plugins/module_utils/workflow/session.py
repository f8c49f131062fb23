# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Maintenance sessions: the Fenix create body checked, and hosts given back on delete."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Dict, List, Optional, Tuple

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import seconds_between
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.compute_service import (
    COMPUTE_BINARY,
    HostNotFound,
    apply_service,
    desired_service,
    find_compute_service,
    select_hosts,
    service_state,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import settle_migrations_from
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import Session
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.replies import Ask, ask_history
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import (
    ADMIN_ACTIONS,
    INSTANCE_ACTION_DONE,
    PLUGIN_TYPES,
    VNF_WORKFLOW,
)

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


def resolve_hosts(conn, hosts: List[str], include_disabled: bool = False, session_id: Optional[str] = None) -> List[str]:
    """The session's hosts: those given (each must run nova-compute), or every compute host.

    Every host leaves out those someone else disabled; naming one is an error
    (DisabledByOthers) unless ``include_disabled``.
    """
    states = [service_state(service) for service in conn.compute.services(binary=COMPUTE_BINARY)]
    known = sorted({state.host for state in states})
    unknown = sorted(set(hosts) - set(known))
    if unknown:
        raise ValueError("hosts: no %s service on %s; known hosts: %s"
                         % (COMPUTE_BINARY, ", ".join(unknown), ", ".join(known) or "none"))
    return select_hosts(states, hosts, include_disabled, session_id=session_id).hosts


def restore_hosts(conn, journal: Journal, session_id: str, check_mode: bool,
                  only: Optional[List[str]] = None) -> Tuple[List[str], List[str]]:
    """Enable the hosts the session disabled; (enabled, left) with the hosts left alone.

    A host whose reason no longer names the session was taken over by someone
    else since, and stays as it is. A reason that names no session (written
    before sessions were named) is the session's: its journal says it disabled the host.
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
        if not current.owned_by(session_id, recorded=True):
            left.append(host)
            continue
        if not check_mode:
            apply_service(conn, service, desired_service(current, "enabled", "", False, None,
                                                         session_id=session_id, recorded=True))
            journal.set_host(session_id, host, disabled_by_session=False)
        enabled.append(host)
    return enabled, left


class MovesStillRunning(MaintenanceError):
    pass


def settle_unfinished_moves(conn, journal: Journal, session_id: str, timeout: float,
                            check_mode: bool = False) -> List[dict]:
    """Let the migrations a stopped run left in flight end before the session goes on, and record how each ended.

    A run killed while Nova migrated its servers leaves their moves RUNNING
    in the journal and the servers MIGRATING (or waiting to be confirmed) in
    Nova; planning again over them would refuse them. Nova finishes what it
    started (a cold migration waiting for it is confirmed), then each move is
    marked done where its server landed, or failed where it stayed.
    """
    running = [move for move in journal.moves(session_id) if move.state == "RUNNING" and move.action in ADMIN_ACTIONS]
    if not running:
        return []
    if not check_mode:
        hosts = sorted({move.from_host for move in running if move.from_host})
        moving = settle_migrations_from(conn, hosts, timeout=timeout)
        if moving:
            raise MovesStillRunning("servers %s still migrating off %s after %ss, left by the session's stopped run;"
                                    " run it again once Nova has finished them" % (", ".join(moving), ", ".join(hosts),
                                                                                   timeout))
    settled = []
    for move in running:
        server = conn.compute.find_server(move.instance_id, ignore_missing=True, all_projects=True)
        landed = getattr(server, "compute_host", None)
        moved = server is not None and landed != move.from_host
        settled.append({"instance_id": move.instance_id, "action": move.action, "from_host": move.from_host,
                        "to_host": landed, "moved": moved})
        if not check_mode:
            journal.finish_move(move.move_id, moved, landed if moved else None,
                                None if moved else "its run stopped before the move ended; it stayed on %s"
                                % move.from_host)
    return settled


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
            entry = projects.setdefault(project_id, {"replies": 0, "decided_by_policy": 0, "decided_at_once": 0,
                                                     "latencies": []})
            entry["replies"] += 1
            entry["decided_by_policy"] += event["details"].get("decided_by") == "policy"
            entry["decided_at_once"] += bool(event["details"].get("at_once"))
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
        "unreachable": unreachable_summary(ask_history(events)),
        "silent_projects": session.silent_projects,
        "unconstrained_instances": unconstrained_summary(journal, session, events),
        "started_at": session.created_at,
        "updated_at": session.updated_at,
        "total_seconds": seconds_between(session.created_at, session.updated_at),
    }


def unreachable_summary(history: Dict[str, List[Ask]]) -> dict:
    """Per project no transport reached: at which asks, the last why, and who decided for it then.

    ``decided_by`` counts those asks by who answered them: ``policy`` (the
    operator's silent policy), ``project`` (it answered all the same, through
    the API), ``none`` (nobody: the run stopped there).
    """
    summary = {}
    for project_id, asks in sorted(history.items()):
        missed = [ask for ask in asks if ask.unreachable]
        if not missed:
            continue
        decided_by = {"policy": 0, "project": 0, "none": 0}
        for ask in missed:
            decided_by[ask.decided_by or "none"] += 1
        summary[project_id] = {"asks": len(missed), "states": list(dict.fromkeys(ask.state for ask in missed)),
                               "why": missed[-1].unreachable["why"], "decided_by": decided_by}
    return summary


def unconstrained_summary(journal: Journal, session: Session, events: List[dict]) -> dict:
    """vnf workflow: the session's instances without a migration_type constraint, and where the policy decided.

    Such an instance has no default action for its answer to take; the
    silent policy gives it one (``decided_by_policy``, the states at which
    it did), as it does for an instance that did not answer. Empty for the
    default workflow, where no answer takes a constraint.
    """
    if session.workflow != VNF_WORKFLOW:
        return {}
    typed = {body["instance_id"] for body in journal.constraints("instance") if body.get("migration_type")}
    summary = {record.instance_id: {"project_id": record.project_id, "decided_by_policy": []}
               for record in journal.instances(session.session_id) if record.instance_id not in typed}
    asked_state: Dict[str, str] = {}
    for event in events:
        details, project_id = event["details"], event["project_id"]
        decided: List[str] = []
        if (event["kind"] == "project.notified" and not details.get("reminder")
                and details.get("state") != INSTANCE_ACTION_DONE):
            asked_state[project_id] = details.get("state")
        elif event["kind"] == "project.policy_actions":
            decided = details.get("instances") or []
        elif event["kind"] == "project.reply" and details.get("decided_by") == "policy":
            decided = details.get("decided_instances", list(details.get("instance_actions") or {}))
        for instance_id in decided:
            if instance_id in summary and asked_state.get(project_id) not in summary[instance_id]["decided_by_policy"]:
                summary[instance_id]["decided_by_policy"].append(asked_state.get(project_id))
    return dict(sorted(summary.items()))


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
