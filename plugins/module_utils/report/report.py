# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The run report: what a session did, from its journal, as JSON, Markdown, HTML and an SVG timeline.

Every time comes from the journal, nothing is estimated. A host's phases:

- disabled: from the session disabling its compute service to the first move
  off it (waiting for the projects' answers and the batch's other hosts);
- emptying: from the first move off it to the host recorded empty;
- plugins: from the first upgrade plugin run on it to the end of the last;
- enabled: from the session enabling it again to the end of the session.

Each move (migration or a project's own action) is a tick on the row of the
host it left; each project has a row with its notifications and replies.
The report is the same for the same journal (no clock of its own), so
writing it again changes no file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict
from html import escape
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import parse_time, seconds_between
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.backends import is_dsn
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import INSTANCE_ACTION_DONE
from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.session import session_summary

FORMATS = ("json", "markdown", "html", "svg")
EXTENSIONS = {"json": "json", "markdown": "md", "html": "html", "svg": "svg"}
PHASES = ("disabled", "emptying", "plugins", "enabled")
PHASE_COLOURS = {"disabled": "#e8a33d", "emptying": "#3b7dd8", "plugins": "#8e5bd0", "enabled": "#9fd49f"}
PHASE_TEXT = {
    "disabled": "disabled, waiting to be emptied",
    "emptying": "servers moving off",
    "plugins": "upgrade plugins running",
    "enabled": "enabled again",
}
# Short names for the session row, where the states stand close together.
STATE_LABELS = {"SCALE_IN": "scale in", "PREPARE_MAINTENANCE": "prepare", "START_MAINTENANCE": "start",
                "PLANNED_MAINTENANCE": "planned", "MAINTENANCE_COMPLETE": "complete", "MAINTENANCE_DONE": "done",
                "MAINTENANCE_FAILED": "FAILED", "MAINTENANCE": "maintenance"}
# Where the notification that an instance's action is done sits among a project's notifications.


class ReportError(MaintenanceError):
    """The report cannot be written as asked."""


# ---------------------------------------------------------------- the data

def build_report(journal: Journal, session_id: str) -> Dict[str, Any]:
    """The report of one session as plain data (the JSON report)."""
    session = journal.session(session_id)
    events = journal.events(session_id)
    moves = [_move_view(asdict(move)) for move in journal.moves(session_id)]
    runs = [asdict(run) for run in journal.action_runs(session_id)]
    host_records = journal.hosts(session_id)
    times = [session.created_at, session.updated_at] + [event["at"] for event in events]
    times += [move["ended_at"] for move in moves if move["ended_at"]]
    start, end = session.created_at, max(times)
    hosts = []
    for record in host_records:
        hosts.append({
            "host": record.host,
            "state": record.state,
            "maintained": record.maintained,
            "disabled_by_session": record.disabled_by_session,
            "phases": host_phases(record.host, events),
            "failed_at": next((event["at"] for event in events if event["host"] == record.host
                               and event["kind"] == "host.state" and event["details"].get("state") == "FAILED"), None),
            "moves": sum(1 for move in moves if move["from_host"] == record.host),
            "plugin_runs": [_run_view(run) for run in runs if run["host"] == record.host],
        })
    projects = [project_timeline(record.project_id, events) for record in journal.projects(session_id)]
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
        "projects": projects,
        "summary": session_summary(journal, session),
    }


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
    """When the project was asked (and reminded), when it answered, when it was told its instances were done."""
    notifications, replies, done = [], [], []
    for event in events:
        if event["project_id"] != project_id:
            continue
        details = event["details"]
        if event["kind"] == "project.notified" and details.get("state") == INSTANCE_ACTION_DONE:
            done.append({"at": event["at"], "instance_id": event["instance_id"]})
        elif event["kind"] == "project.notified":
            notifications.append({"at": event["at"], "state": details.get("state"),
                                  "reminder": bool(details.get("reminder")), "count": details.get("count")})
        elif event["kind"] == "project.reply":
            asked = [item["at"] for item in notifications if not item["reminder"]]
            replies.append({"at": event["at"], "reply": details.get("reply"),
                            "decided_by": details.get("decided_by") or "project",
                            "seconds": seconds_between(asked[-1], event["at"]) if asked else None})
    return {"project_id": project_id, "notifications": notifications, "replies": replies,
            "instance_action_done": done}


def _move_view(move: Dict[str, Any]) -> Dict[str, Any]:
    return dict(move, seconds=seconds_between(move["started_at"], move["ended_at"]))


def _run_view(run: Dict[str, Any]) -> Dict[str, Any]:
    return {"plugin": run["plugin"], "type": run["type"], "host": run["host"], "state": run["state"],
            "started_at": run["started_at"], "ended_at": run["ended_at"],
            "seconds": seconds_between(run["started_at"], run["ended_at"])}


# ---------------------------------------------------------------- the picture

LABEL_WIDTH = 190
PLOT_WIDTH = 880
ROW_HEIGHT = 26
BAR_HEIGHT = 16
TOP = 66
AXIS_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)


class _Scale:
    """Seconds since the session's start to x, on the plot's width."""

    def __init__(self, start: str, seconds: float) -> None:
        self.start = parse_time(start)
        self.seconds = max(seconds, 1.0)

    def x(self, at: Optional[str]) -> float:
        if at is None:
            return LABEL_WIDTH + PLOT_WIDTH
        offset = (parse_time(at) - self.start).total_seconds()
        return round(LABEL_WIDTH + PLOT_WIDTH * min(max(offset, 0.0), self.seconds) / self.seconds, 2)

    def step(self) -> int:
        return next((step for step in AXIS_STEPS if self.seconds / step <= 10), AXIS_STEPS[-1])


def _attr(value: Any) -> str:
    return escape(str(value), quote=True)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return ("%d:%02d:%02d" % (hours, rest // 60, rest % 60)) if hours else ("%d:%02d" % (rest // 60, rest % 60))


def _duration(seconds: Optional[float]) -> str:
    return "-" if seconds is None else ("%.1f s" % seconds if seconds < 120 else _clock(seconds))


def _short(text: str, length: int = 26) -> str:
    return text if len(text) <= length else text[:length - 1] + "\u2026"


def render_svg(report: Dict[str, Any]) -> str:
    """The timeline: an axis, one row per host with its phases and moves, one row per project."""
    timeline = report["timeline"]
    scale = _Scale(timeline["start"], timeline["seconds"])
    hosts, projects = report["hosts"], report["projects"]
    rows = 1 + len(hosts) + len(projects)
    gap = 12 if projects else 0
    height = TOP + rows * ROW_HEIGHT + gap + 40
    width = LABEL_WIDTH + PLOT_WIDTH + 60
    session = report["session"]
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="fenix-timeline" width="%d" height="%d" viewBox="0 0 %d %d"'
        ' role="img" aria-labelledby="timeline-title" data-session="%s">'
        % (width, height, width, height, _attr(session["session_id"])),
        '<title id="timeline-title">Maintenance session %s: %s</title>'
        % (_attr(session["session_id"]), _attr(session["state"])),
        "<style>text{font-family:sans-serif;font-size:12px;fill:#222}.axis line{stroke:#ccc}"
        ".axis text{font-size:10px;fill:#666}.label{font-weight:bold}.phase{stroke:#fff;stroke-width:0.5}"
        ".move line{stroke:#111;stroke-width:1.5}.move .span{stroke:#111;stroke-width:1.2;opacity:0.7}"
        ".move.failed line{stroke:#d62728}.notice{stroke:#555;stroke-width:1}"
        ".row-band{fill:#f6f6f6}.heading{font-size:14px;font-weight:bold}</style>",
        '<rect x="0" y="0" width="%d" height="%d" fill="#fff"/>' % (width, height),
        '<text class="heading" x="8" y="20">Session %s \u2014 %s, %s</text>'
        % (_attr(_short(session["session_id"], 60)), _attr(session["state"]), _attr(_duration(timeline["seconds"]))),
    ]
    plot_bottom = TOP + rows * ROW_HEIGHT + gap
    parts.append(_axis(scale, timeline, plot_bottom))
    y = TOP
    parts.append(_session_row(report, scale, y))
    y += ROW_HEIGHT
    moves_by_host: Dict[str, List[dict]] = {}
    for move in report["moves"]:
        moves_by_host.setdefault(move["from_host"], []).append(move)
    for index, host in enumerate(hosts):
        parts.append(_host_row(index, host, moves_by_host.get(host["host"], []), scale, y))
        y += ROW_HEIGHT
    y += gap
    for index, project in enumerate(projects):
        parts.append(_project_row(index, project, scale, y))
        y += ROW_HEIGHT
    parts.append(_legend(y + 16))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _axis(scale: _Scale, timeline: Dict[str, Any], bottom: int) -> str:
    step = scale.step()
    parts = ['<g class="axis">']
    tick = 0
    while tick <= scale.seconds + 1e-6:
        x = round(LABEL_WIDTH + PLOT_WIDTH * tick / scale.seconds, 2)
        parts.append('<line x1="%s" y1="%d" x2="%s" y2="%d"/>' % (x, TOP - 6, x, bottom))
        parts.append('<text x="%s" y="%d" text-anchor="middle">+%s</text>' % (x, TOP - 10, _clock(tick)))
        tick += step
    parts.append('<text x="%d" y="%d">start %s UTC</text>'
                 % (8, 40, _attr(parse_time(timeline["start"]).strftime("%Y-%m-%d %H:%M:%S"))))
    parts.append("</g>")
    return "".join(parts)


def _row_start(kind: str, index: int, data: str, value: str, y: int, extra: str = "") -> List[str]:
    return [
        '<g class="row %s" id="%s-%d" data-%s="%s"%s>' % (kind, kind, index, data, _attr(value), extra),
        '<rect class="row-band" x="0" y="%d" width="%d" height="%d" opacity="%s"/>'
        % (y, LABEL_WIDTH + PLOT_WIDTH, ROW_HEIGHT - 2, "1" if index % 2 == 0 else "0"),
        '<text class="label" x="8" y="%d">%s<title>%s</title></text>'
        % (y + 17, _attr(_short(value)), _attr(value)),
    ]


def _session_row(report: Dict[str, Any], scale: _Scale, y: int) -> str:
    parts = _row_start("session", 0, "row", "session", y)
    changes = report["session_states"]
    for index, change in enumerate(changes):
        x = scale.x(change["at"])
        colour = "#d62728" if change["state"] == "MAINTENANCE_FAILED" else "#333"
        label = STATE_LABELS.get(change["state"], change["state"] or "")
        # A label that would run into the next state's is left to the tooltip.
        room = (scale.x(changes[index + 1]["at"]) if index + 1 < len(changes) else LABEL_WIDTH + PLOT_WIDTH + 50) - x
        label = label if room > 6 * len(label) + 12 else ""
        parts.append('<g class="state-change" data-state="%s"><line x1="%s" y1="%d" x2="%s" y2="%d" stroke="%s"'
                     ' stroke-width="2"/><text x="%s" y="%d" style="font-size:9px;fill:%s">%s</text><title>%s at +%s%s</title></g>'
                     % (_attr(change["state"]), x, y + 3, x, y + ROW_HEIGHT - 5, colour, x + 3, y + 16, colour,
                        _attr(label), _attr(change["state"]),
                        _clock(_offset(scale, change["at"])),
                        _attr(": " + change["reason"]) if change.get("reason") else ""))
    parts.append("</g>")
    return "".join(parts)


def _offset(scale: _Scale, at: str) -> float:
    return (parse_time(at) - scale.start).total_seconds()


def _host_row(index: int, host: Dict[str, Any], moves: List[dict], scale: _Scale, y: int) -> str:
    parts = _row_start("host", index, "host", host["host"], y, ' data-state="%s"' % _attr(host["state"]))
    bar_y = y + (ROW_HEIGHT - 2 - BAR_HEIGHT) // 2
    for phase in host["phases"]:
        x1, x2 = scale.x(phase["start"]), scale.x(phase["end"])
        parts.append('<rect class="phase phase-%s" data-phase="%s" x="%s" y="%d" width="%s" height="%d" fill="%s">'
                     "<title>%s %s: %s, from +%s for %s</title></rect>"
                     % (phase["phase"], phase["phase"], x1, bar_y, round(max(x2 - x1, 2.0), 2), BAR_HEIGHT,
                        PHASE_COLOURS[phase["phase"]], _attr(host["host"]), phase["phase"], PHASE_TEXT[phase["phase"]],
                        _clock(_offset(scale, phase["start"])),
                        _duration(phase["seconds"]) if phase["end"] else "until the end"))
    for lane, move in enumerate(moves):
        x, x_end = scale.x(move["started_at"]), scale.x(move["ended_at"])
        # Moves run side by side: each duration line gets its own height in the bar.
        span_y = bar_y + 2 + 3 * (lane % 5)
        tip = "%s (%s) of project %s: %s to %s, %s, %s" % (
            move["instance_id"], move["action"], move["project_id"], move["from_host"],
            move["to_host"] or move["target_host"] or "the scheduler's choice", move["state"].lower(),
            _duration(move["seconds"]))
        if move["error"]:
            tip += ": " + move["error"]
        parts.append('<g class="move%s" data-instance="%s" data-action="%s"><line class="span" x1="%s" y1="%d"'
                     ' x2="%s" y2="%d"/><line x1="%s" y1="%d" x2="%s" y2="%d"/><title>%s</title></g>'
                     % (" failed" if move["state"] == "FAILED" else "", _attr(move["instance_id"]),
                        _attr(move["action"]), x, span_y, x_end, span_y,
                        x, y + 1, x, y + ROW_HEIGHT - 3, _attr(tip)))
    if host["failed_at"]:
        x = scale.x(host["failed_at"])
        parts.append('<g class="failure"><text x="%s" y="%d" style="fill:#d62728;font-weight:bold">\u2716</text>'
                     "<title>%s failed at +%s</title></g>"
                     % (x - 5, y + 17, _attr(host["host"]), _clock(_offset(scale, host["failed_at"]))))
    parts.append("</g>")
    return "".join(parts)


def _project_row(index: int, project: Dict[str, Any], scale: _Scale, y: int) -> str:
    parts = _row_start("project", index, "project", project["project_id"], y)
    middle = y + (ROW_HEIGHT - 2) // 2
    for notice in project["instance_action_done"]:
        x = scale.x(notice["at"])
        parts.append('<line class="notice done" x1="%s" y1="%d" x2="%s" y2="%d"><title>INSTANCE_ACTION_DONE for %s'
                     "</title></line>" % (x, middle + 4, x, middle + 10, _attr(notice["instance_id"])))
    for item in project["notifications"]:
        x = scale.x(item["at"])
        parts.append('<path class="notification%s" data-state="%s" d="M %s %d l -6 -9 h 12 z" fill="%s"'
                     ' stroke="#1f3a93"><title>%s %s at +%s</title></path>'
                     % (" reminder" if item["reminder"] else "", _attr(item["state"]), x, middle + 2,
                        "#fff" if item["reminder"] else "#1f3a93", "reminded of" if item["reminder"] else "asked",
                        _attr(item["state"]), _clock(_offset(scale, item["at"]))))
    for reply in project["replies"]:
        x = scale.x(reply["at"])
        nack = (reply["reply"] or "").startswith("NACK_")
        fill = "#fff" if reply["decided_by"] == "policy" else ("#d62728" if nack else "#2ca02c")
        parts.append('<circle class="reply" data-reply="%s" data-decided-by="%s" cx="%s" cy="%d" r="5" fill="%s"'
                     ' stroke="%s" stroke-width="1.5"><title>%s at +%s%s%s</title></circle>'
                     % (_attr(reply["reply"]), _attr(reply["decided_by"]), x, middle, fill,
                        "#d62728" if nack else "#2ca02c", _attr(reply["reply"]), _clock(_offset(scale, reply["at"])),
                        ", after %s" % _duration(reply["seconds"]) if reply["seconds"] is not None else "",
                        " (the operator's silent policy)" if reply["decided_by"] == "policy" else ""))
    parts.append("</g>")
    return "".join(parts)


def _legend(y: int) -> str:
    parts = ['<g class="legend">']
    x = 8
    for phase in PHASES:
        parts.append('<rect x="%d" y="%d" width="14" height="10" fill="%s"/><text x="%d" y="%d">%s</text>'
                     % (x, y - 9, PHASE_COLOURS[phase], x + 18, y, phase))
        x += 85
    items = (
        '<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="#111" stroke-width="1.5"/>',
        '<path d="M {x} {mid} l -6 -9 h 12 z" fill="#1f3a93"/>',
        '<path d="M {x} {mid} l -6 -9 h 12 z" fill="#fff" stroke="#1f3a93"/>',
        '<circle cx="{x}" cy="{circle}" r="5" fill="#2ca02c" stroke="#2ca02c"/>',
        '<circle cx="{x}" cy="{circle}" r="5" fill="#fff" stroke="#2ca02c" stroke-width="1.5"/>',
    )
    labels = ("move (start; line: duration)", "notification", "reminder", "reply", "by silent policy")
    for shape, label in zip(items, labels):
        parts.append(shape.format(x=x + 6, top=y - 11, bottom=y + 2, mid=y + 1, circle=y - 4))
        parts.append('<text x="%d" y="%d">%s</text>' % (x + 16, y, label))
        x += 30 + 6 * len(label)
    parts.append("</g>")
    return "".join(parts)


# ---------------------------------------------------------------- the documents

def _host_figures(host: Dict[str, Any]) -> Dict[str, str]:
    figures = {}
    for phase in host["phases"]:
        figures.setdefault(phase["phase"], phase)
    return {name: (_duration(figures[name]["seconds"]) if name in figures and figures[name]["end"] else
                   ("until the end" if name in figures else "-")) for name in PHASES}


def _project_figures(project: Dict[str, Any]) -> Tuple[int, int, int, str]:
    asks = sum(1 for item in project["notifications"] if not item["reminder"])
    reminders = len(project["notifications"]) - asks
    latencies = sorted(reply["seconds"] for reply in project["replies"] if reply["seconds"] is not None)
    median = _duration(latencies[len(latencies) // 2]) if latencies else "-"
    return asks, reminders, len(project["replies"]), median


def _md(value: Any) -> str:
    """A Markdown table cell: pipes and line breaks would break the table, markup is shown as text."""
    text = re.sub(r"([\\`*\[\]|])", r"\\\1", escape(str(value), quote=False)).replace("\n", " ")
    return text or "-"


def render_markdown(report: Dict[str, Any], svg_name: Optional[str] = None) -> str:
    session, summary = report["session"], report["summary"]
    lines = ["# Maintenance session %s" % _md(session["session_id"]), ""]
    lines += ["| | |", "| --- | --- |"]
    lines += ["| %s | %s |" % (name, _md(value)) for name, value in (
        ("state", session["state"]), ("reason", session["reason"] or "-"),
        ("started", session["created_at"]), ("last change", session["updated_at"]),
        ("total", _duration(summary["total_seconds"])),
        ("hosts maintained", "%d of %d" % (len(summary["hosts_maintained"]), summary["hosts_total"])),
        ("moves", ", ".join("%s %d" % item for item in sorted(summary["moves"].items())) or "none"))]
    if svg_name:
        lines += ["", "![timeline of the session](%s)" % svg_name.replace(" ", "%20")]
    lines += ["", "## Hosts", "", "| host | state | disabled | emptying | plugins | enabled at | moves off |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for host in report["hosts"]:
        figures = _host_figures(host)
        enabled = next((phase["start"] for phase in host["phases"] if phase["phase"] == "enabled"), "-")
        lines.append("| %s | %s | %s | %s | %s | %s | %d |" % (
            _md(host["host"]), _md(host["state"]), figures["disabled"], figures["emptying"], figures["plugins"],
            _md(enabled), host["moves"]))
    lines += ["", "## Moves", "", "| server | project | action | from | to | state | took |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for move in report["moves"]:
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            _md(move["instance_id"]), _md(move["project_id"]), _md(move["action"]), _md(move["from_host"]),
            _md(move["to_host"] or "-"), _md(move["state"]), _duration(move["seconds"])))
    lines += ["", "## Projects", "", "| project | asked | reminders | replies | median reply |",
              "| --- | --- | --- | --- | --- |"]
    for project in report["projects"]:
        asks, reminders, replies, median = _project_figures(project)
        lines.append("| %s | %d | %d | %d | %s |" % (_md(project["project_id"]), asks, reminders, replies, median))
    return "\n".join(lines) + "\n"


_CSS = (
    "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}th{background:#f0f0f0}"
    ".state-MAINTENANCE_FAILED{color:#d62728;font-weight:bold}.state-MAINTENANCE_DONE{color:#2a7a2a}"
    ".timeline{overflow-x:auto}"
)


def _table(headings: Tuple[str, ...], rows: List[Tuple[Any, ...]], css_class: str, data: str = "") -> str:
    head = "".join("<th>%s</th>" % escape(heading) for heading in headings)
    head = "<thead><tr>%s</tr></thead>" % head if any(headings) else ""
    body = []
    for row in rows:
        attribute = ' data-%s="%s"' % (data, _attr(row[0])) if data else ""
        body.append("<tr%s>%s</tr>" % (attribute, "".join("<td>%s</td>" % escape(str(cell)) for cell in row)))
    return '<table class="%s">%s<tbody>%s</tbody></table>' % (css_class, head, "".join(body))


def render_html(report: Dict[str, Any], svg: Optional[str] = None) -> str:
    """One self-contained page: the timeline inlined, the tables, no external resource."""
    session, summary = report["session"], report["summary"]
    svg = svg if svg is not None else render_svg(report)
    hosts = []
    for host in report["hosts"]:
        figures = _host_figures(host)
        enabled = next((phase["start"] for phase in host["phases"] if phase["phase"] == "enabled"), "-")
        hosts.append((host["host"], host["state"], figures["disabled"], figures["emptying"], figures["plugins"],
                      enabled, host["moves"]))
    moves = [(move["instance_id"], move["project_id"], move["action"], move["from_host"], move["to_host"] or "-",
              move["state"], _duration(move["seconds"])) for move in report["moves"]]
    projects = [(project["project_id"],) + _project_figures(project) for project in report["projects"]]
    overview = (
        ("state", session["state"]), ("reason", session["reason"] or "-"), ("started", session["created_at"]),
        ("last change", session["updated_at"]), ("total", _duration(summary["total_seconds"])),
        ("hosts maintained", "%d of %d" % (len(summary["hosts_maintained"]), summary["hosts_total"])),
        ("moves", ", ".join("%s %d" % item for item in sorted(summary["moves"].items())) or "none"))
    return "".join((
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        "<title>Maintenance session %s</title><style>%s</style></head>\n" % (escape(session["session_id"]), _CSS),
        '<body data-session="%s" data-state="%s">\n' % (_attr(session["session_id"]), _attr(session["state"])),
        '<h1>Maintenance session %s: <span class="state-%s">%s</span></h1>\n'
        % (escape(session["session_id"]), _attr(session["state"]), escape(session["state"])),
        _table(("", ""), list(overview), "overview"), "\n",
        '<div class="timeline">\n', svg, "</div>\n",
        "<h2>Hosts</h2>\n",
        _table(("host", "state", "disabled", "emptying", "plugins", "enabled at", "moves off"), hosts, "hosts", "host"),
        "\n<h2>Moves</h2>\n",
        _table(("server", "project", "action", "from", "to", "state", "took"), moves, "moves", "instance"),
        "\n<h2>Projects</h2>\n",
        _table(("project", "asked", "reminders", "replies", "median reply"), projects, "projects", "project"),
        "\n</body></html>\n",
    ))


def render(report: Dict[str, Any], formats: Tuple[str, ...] = FORMATS, svg_name: Optional[str] = None) -> Dict[str, str]:
    """The documents asked for, by format; the Markdown shows the picture at ``svg_name`` (a relative URL) if given."""
    svg = render_svg(report) if "svg" in formats or "html" in formats else None
    documents = {}
    for name in formats:
        if name == "json":
            documents[name] = json.dumps(report, indent=2, sort_keys=True) + "\n"
        elif name == "svg":
            documents[name] = svg
        elif name == "html":
            documents[name] = render_html(report, svg)
        elif name == "markdown":
            documents[name] = render_markdown(report, svg_name)
        else:
            raise ReportError("report_formats: %r is not one of %s" % (name, ", ".join(FORMATS)))
    return documents


# ---------------------------------------------------------------- the files

def report_directory(journal_location: str, report_dir: Optional[str]) -> str:
    """Where the reports go: the directory given, else ``reports/`` beside a SQLite journal."""
    if report_dir:
        return os.path.abspath(os.path.expanduser(report_dir))
    if is_dsn(journal_location):
        raise ReportError("report_dir: missing; a PostgreSQL journal has no directory to put the report beside,"
                          " so give report_dir (rolling_maintenance_report_dir in the role)")
    return os.path.join(os.path.dirname(os.path.abspath(journal_location)), "reports")


def file_stem(session_id: str) -> str:
    """The session id as a safe file name (other characters become _)."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", session_id).lstrip(".")
    return stem or "session"


def report_paths(directory: str, session_id: str, formats: Tuple[str, ...] = FORMATS) -> Dict[str, str]:
    stem = file_stem(session_id)
    return {name: os.path.join(directory, "%s.%s" % (stem, EXTENSIONS[name])) for name in formats}


def write_report(journal: Journal, session_id: str, directory: str, formats: Tuple[str, ...] = FORMATS,
                 check_mode: bool = False) -> Tuple[Dict[str, str], bool]:
    """Write the session's report files; (paths by format, whether any file changed).

    Each file is replaced atomically, and only when its content differs.
    In check mode nothing is written; the answer says what would change.
    """
    paths = report_paths(directory, session_id, formats)
    svg_name = os.path.basename(paths["svg"]) if "svg" in paths else None
    documents = render(build_report(journal, session_id), formats, svg_name)
    changed = False
    for name, path in paths.items():
        if _current(path) == documents[name]:
            continue
        changed = True
        if not check_mode:
            write_atomically(path, documents[name])
    return paths, changed


def _current(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def write_atomically(path: str, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename: readers see the old file or the new one."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
