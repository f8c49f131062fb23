# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The run report's data: what a session did, from its journal (the JSON report).

Every time comes from the journal, nothing is estimated. A host's phases:

- disabled: from the session disabling its compute service to the first move
  off it (waiting for the projects' answers and the batch's other hosts);
- emptying: from the first move off it to the host recorded empty;
- plugins: from the first upgrade plugin run on it to the end of the last;
- enabled: from the session enabling it again to the end of the session.

``time_spent`` says where the session's time went: moving servers (the union
of the moves' intervals), plugins and checks (the plugin runs and the health
gates), waiting for projects (from each ask to its answer, also per project),
the rest (none of these), and the session's wall time against its busy time
(moving or plugins and checks). ``batches`` says the same of each batch, the
hosts disabled and enabled again together, from its first disable to its last
enable; ``time_spent.outside_batches`` is the session's time before, between
and after them.

Servers and projects carry their names when the run recorded them (an
instance's ``name`` detail, an event's ``project_name`` detail); a name is
None when it was not known. The data is the same for the same journal.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import asdict
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import seconds_between
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.events import SESSION_FIGURES
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.leases import LEASE_EVENTS
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import INSTANCE_ACTION_DONE
from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.session import session_summary

PHASES = ("disabled", "emptying", "plugins", "enabled")
# Events that are not what the session did (see build_report).
NOT_REPORTED = LEASE_EVENTS + (SESSION_FIGURES,)


class ReportError(MaintenanceError):
    """The report cannot be made or written as asked."""


def build_report(journal: Journal, session_id: str) -> Dict[str, Any]:
    """The report of one session as plain data (the JSON report)."""
    session = journal.session(session_id)
    # Which run held the session is not what the session did: a later run of a finished session (an
    # idempotence check) takes and gives back the lease, and its report must stay the same bytes. Nor are the
    # figures a plan kept of it (SESSION_FIGURES).
    events = [event for event in journal.events(session_id) if event["kind"] not in NOT_REPORTED]
    server_names = {record.instance_id: record.details.get("name") or None
                    for record in journal.instances(session_id)}
    project_names = recorded_project_names(events)
    moves = [_move_view(asdict(move), server_names, project_names) for move in journal.moves(session_id)]
    runs = [asdict(run) for run in journal.action_runs(session_id)]
    host_records = journal.hosts(session_id)
    times = [session.created_at, session.updated_at] + [event["at"] for event in events]
    times += [move["ended_at"] for move in moves if move["ended_at"]]
    start, end = session.created_at, max(times)
    # Each host's and project's share read once: a session of thousands of hosts has hundreds of thousands of events.
    events_of = grouped(events, "host")
    runs_of = grouped(runs, "host")
    moves_off = Counter(move["from_host"] for move in moves)
    hosts = []
    for record in host_records:
        own_events = events_of.get(record.host, [])
        hosts.append({
            "host": record.host,
            "state": record.state,
            "maintained": record.maintained,
            "disabled_by_session": record.disabled_by_session,
            "phases": host_phases(record.host, own_events),
            "failed_at": next((event["at"] for event in own_events
                               if event["kind"] == "host.state" and event["details"].get("state") == "FAILED"), None),
            "moves": moves_off[record.host],
            "plugin_runs": [_run_view(run) for run in runs_of.get(record.host, [])],
        })
    events_by_project = grouped(events, "project_id")
    projects = [dict(project_timeline(record.project_id, events_by_project.get(record.project_id, [])),
                     project_name=project_names.get(record.project_id))
                for record in journal.projects(session_id)]
    moving, working = activity(start, end, moves, runs, events)
    batches = batch_times(start, hosts, moving, working)
    spent = spent_on(start, end, moving, working, projects)
    spent["outside_batches"] = round(spent["seconds"] - sum(batch["seconds"] for batch in batches), 3)
    return {
        "report_version": 1,
        "session": {
            "session_id": session.session_id,
            "state": session.state,
            "reason": session.reason,
            "workflow": session.workflow,
            "maintenance_at": session.maintenance_at,
            "metadata": session.metadata,
            "created_at": session.created_at,
            "updated_at": session.updated_at,
        },
        "timeline": {"start": start, "end": end, "seconds": seconds_between(start, end) or 0.0},
        "session_states": [{"at": event["at"], "state": event["details"].get("to"),
                            "reason": event["details"].get("reason")}
                           for event in events if event["kind"] == "session.state"],
        "hosts": hosts,
        "moves": moves,
        "controller_plugin_runs": [_run_view(run) for run in runs if run["host"] is None],
        "controller_hosts": controller_hosts(runs),
        "projects": projects,
        "batches": batches,
        "time_spent": spent,
        "summary": session_summary(journal, session),
    }


Interval = Tuple[float, float]


def grouped(items: List[dict], key: str) -> Dict[Any, List[dict]]:
    """The items by their ``key``, each list in the items' order."""
    groups: Dict[Any, List[dict]] = defaultdict(list)
    for item in items:
        groups[item[key]].append(item)
    return groups


def time_spent(start: str, end: str, moves: List[dict], runs: List[dict], events: List[dict],
               projects: List[dict]) -> Dict[str, Any]:
    """Seconds of the session spent moving, in plugins and checks, waiting for projects, and on the rest."""
    moving, working = activity(start, end, moves, runs, events)
    return spent_on(start, end, moving, working, projects)


def spent_on(start: str, end: str, moving: List[Optional[Interval]], working: List[Optional[Interval]],
             projects: List[dict]) -> Dict[str, Any]:
    """time_spent, from the intervals ``activity`` gives."""
    waits = {project["project_id"]: _waiting(project, _interval_from(start, end)) for project in projects}
    waiting = [span for spans in waits.values() for span in spans]
    total = seconds_between(start, end) or 0.0
    busy = _covered(moving + working)
    return {
        "seconds": total,
        "moving": _covered(moving),
        "plugins_and_checks": _covered(working),
        "waiting_for_projects": _covered(waiting),
        "waiting_by_project": {project_id: _covered(spans) for project_id, spans in waits.items()},
        "other": round(total - _covered(moving + working + waiting), 3),
        "busy": busy,
        "wall_per_busy": round(total / busy, 2) if busy else None,
    }


def activity(start: str, end: str, moves: List[dict], runs: List[dict],
             events: List[dict]) -> Tuple[List[Optional[Interval]], List[Optional[Interval]]]:
    """The moves' intervals, and those of the plugin runs and health gates, in seconds from ``start``."""
    interval = _interval_from(start, end)
    moving = [interval(move["started_at"], move["ended_at"]) for move in moves]
    working = [interval(run["started_at"], run["ended_at"]) for run in runs]
    for event in events:
        if event["kind"] in ("host.healthy", "host.unhealthy"):
            at = seconds_between(start, event["at"]) or 0.0
            working.append((max(0.0, at - float(event["details"].get("waited") or 0.0)), at))
    return moving, working


def _interval_from(start: str, end: str):
    """A function of (begin, until) timestamps to seconds from ``start``; no until: still going at ``end``."""
    def interval(begin: Optional[str], until: Optional[str]) -> Optional[Interval]:
        if not begin:
            return None
        return (seconds_between(start, begin) or 0.0, seconds_between(start, until or end) or 0.0)
    return interval


def batch_times(start: str, hosts: List[dict], moving: List[Optional[Interval]],
                working: List[Optional[Interval]]) -> List[Dict[str, Any]]:
    """The session's batches, each the hosts whose time from disabled to enabled again overlaps: its hosts, its
    seconds from the first disable to the last enable, how much of that time servers moved and plugins and checks
    ran, and the rest (the tasks around the work, the asks). A host the session did not disable and enable is in none."""
    spans = []
    for host in hosts:
        disabled = [phase["start"] for phase in host["phases"] if phase["phase"] == "disabled"]
        enabled = [phase["start"] for phase in host["phases"] if phase["phase"] == "enabled"]
        if disabled and enabled:
            spans.append((seconds_between(start, disabled[0]) or 0.0, seconds_between(start, enabled[-1]) or 0.0,
                          host["host"]))
    batches: List[Dict[str, Any]] = []
    for begin, until, name in sorted(spans):
        if batches and begin <= batches[-1]["until"]:
            batches[-1]["hosts"].append(name)
            batches[-1]["until"] = max(batches[-1]["until"], until)
        else:
            batches.append({"hosts": [name], "begin": begin, "until": until})
    moving_in, working_in = _within(batches, moving), _within(batches, working)
    views = []
    for batch, moves_of, work_of in zip(batches, moving_in, working_in):
        seconds = round(batch["until"] - batch["begin"], 3)
        views.append({"hosts": sorted(batch["hosts"]), "start": round(batch["begin"], 3), "seconds": seconds,
                      "moving": _covered(moves_of), "plugins_and_checks": _covered(work_of),
                      "other": round(seconds - _covered(moves_of + work_of), 3)})
    return views


def _within(batches: List[Dict[str, Any]], intervals: List[Optional[Interval]]) -> List[List[Interval]]:
    """Per batch (in time order, apart), the parts of the intervals inside it: each interval is looked up by
    its end among the batches' starts, as a session has thousands of moves and hundreds of batches."""
    begins = [batch["begin"] for batch in batches]
    inside: List[List[Interval]] = [[] for _batch in batches]
    for span in intervals:
        if span is None:
            continue
        index = bisect_left(begins, span[1]) - 1  # the last batch that begins before the interval ends
        while index >= 0 and batches[index]["until"] > span[0]:
            batch = batches[index]
            inside[index].append((max(batch["begin"], span[0]), min(batch["until"], span[1])))
            index -= 1
    return inside


def _waiting(project: Dict[str, Any], interval) -> List[Interval]:
    """From each ask of the project (not a reminder) to the answer that followed it, or to the session's end."""
    asks = [item["at"] for item in project["notifications"] if not item["reminder"]]
    answers = sorted(reply["at"] for reply in project["replies"])
    spans = []
    for asked in asks:
        answered = next((at for at in answers if at >= asked), None)
        spans.append(interval(asked, answered))
    return spans


def _covered(intervals: List[Optional[Interval]]) -> float:
    """Seconds covered by at least one of the intervals (overlaps counted once)."""
    covered, reach = 0.0, None
    for begin, until in sorted(span for span in intervals if span is not None):
        if reach is None or begin > reach:
            covered += until - begin
            reach = until
        elif until > reach:
            covered += until - reach
            reach = until
    return round(covered, 3)


def recorded_project_names(events: List[dict]) -> Dict[str, str]:
    """Project id -> the last name the journal recorded for it (a project renamed mid-run shows its new name)."""
    names = {}
    for event in events:
        name = event["details"].get("project_name")
        if event["project_id"] and name:
            names[event["project_id"]] = name
    return names


def host_phases(host: str, events: List[dict]) -> List[Dict[str, Any]]:
    """The host's phases in the order they happened; a phase still going on has ``end`` None."""
    phases: List[Dict[str, Any]] = []
    current: Optional[Dict[str, Any]] = None

    def begin(name: str, at: str) -> Dict[str, Any]:
        close(at)
        phase = {"phase": name, "start": at, "end": None}
        phases.append(phase)
        return phase

    def close(at: str) -> None:
        if current is not None and current["end"] is None:
            current["end"] = at

    for event in events:
        if event["host"] != host:
            continue
        kind, details, at = event["kind"], event["details"], event["at"]
        if kind == "host.state" and details.get("state") == "DISABLED":
            current = begin("disabled", at)
        elif kind == "instance.move_started" and (current is None or current["phase"] == "disabled"):
            current = begin("emptying", at)
        elif kind == "host.state" and details.get("state") in ("IN_MAINTENANCE", "FAILED"):
            if current is not None and current["phase"] in ("disabled", "emptying"):
                close(at)
                current = None
        elif kind == "action.started" and (current is None or current["phase"] != "plugins"):
            current = begin("plugins", at)
        elif kind in ("action.done", "action.failed") and current is not None and current["phase"] == "plugins":
            current["end"] = at  # the last run's end; later runs move it on
        elif kind.startswith("host.") and details.get("disabled_by_session") is False:
            if current is not None and current["phase"] == "plugins" and current["end"] is not None:
                current = None  # its end is its last run's end
            close(at)
            current = begin("enabled", at)
    for phase in phases:
        phase["seconds"] = seconds_between(phase["start"], phase["end"])
    return phases


def project_timeline(project_id: str, events: List[dict]) -> Dict[str, Any]:
    """When the project was asked (and reminded), when it answered, when it was told its instances were done,
    and each time no transport reached it (``unreachable``, with why)."""
    notifications, replies, done, unreachable = [], [], [], []
    for event in events:
        if event["project_id"] != project_id:
            continue
        details = event["details"]
        if event["kind"] == "project.notified" and details.get("state") == INSTANCE_ACTION_DONE:
            done.append({"at": event["at"], "instance_id": event["instance_id"]})
        elif event["kind"] == "project.notified":
            notifications.append({"at": event["at"], "state": details.get("state"),
                                  "reminder": bool(details.get("reminder")), "count": details.get("count")})
        elif event["kind"] == "project.unreachable":
            unreachable.append({"at": event["at"], "state": details.get("state"), "reason": details.get("reason"),
                                "why": details.get("why"), "reminder": bool(details.get("reminder"))})
        elif event["kind"] == "project.reply":
            asked = [item["at"] for item in notifications if not item["reminder"]]
            replies.append({"at": event["at"], "reply": details.get("reply"),
                            "decided_by": details.get("decided_by") or "project",
                            "at_once": bool(details.get("at_once")),
                            "seconds": seconds_between(asked[-1], event["at"]) if asked else None})
    return {"project_id": project_id, "notifications": notifications, "replies": replies,
            "instance_action_done": done, "unreachable": unreachable}


def _move_view(move: Dict[str, Any], server_names: Dict[str, Optional[str]],
               project_names: Dict[str, str]) -> Dict[str, Any]:
    return dict(move, seconds=seconds_between(move["started_at"], move["ended_at"]),
                instance_name=server_names.get(move["instance_id"]), project_name=project_names.get(move["project_id"]))


def controller_hosts(runs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The controller hosts (not hosts of the session) in the order their controller plugins first ran, each with its runs."""
    hosts: Dict[str, List[Dict[str, Any]]] = {}
    for run in runs:
        if run["type"] == "controller" and run["host"] is not None:
            hosts.setdefault(run["host"], []).append(_run_view(run))
    return [{"host": host, "plugin_runs": host_runs} for host, host_runs in hosts.items()]


def _run_view(run: Dict[str, Any]) -> Dict[str, Any]:
    return {"plugin": run["plugin"], "type": run["type"], "host": run["host"], "state": run["state"],
            "started_at": run["started_at"], "ended_at": run["ended_at"],
            "seconds": seconds_between(run["started_at"], run["ended_at"])}
