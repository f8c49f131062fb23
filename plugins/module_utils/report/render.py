# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The run report's documents from its data: the SVG timeline, the HTML page, the Markdown.

Here the picture is laid out (coordinates, labels, tooltips) and the tables'
figures are worked out; the markup is in the Jinja2 templates of templates.py.
HTML and SVG are autoescaped, as tenants choose the names of servers and
projects. Each move is a tick on the row of the host it left; each project has
a row with its notifications and replies. Nothing here reads a clock, so the
same report renders to the same bytes.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any, Dict, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import parse_time
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.explain import MOVE_HEADINGS as PLAN_MOVE_HEADINGS
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import label_of
from ansible_collections.fenix.maintenance.plugins.module_utils.report import templates
from ansible_collections.fenix.maintenance.plugins.module_utils.report.build import PHASES, ReportError

try:
    import jinja2

    JINJA2_IMPORT_ERROR = None
except ImportError as exc:  # reported when a document is rendered, not at import time
    jinja2 = None
    JINJA2_IMPORT_ERROR = exc

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
LEGEND_MARKS = (("move", "move (start; line: duration)"), ("notification", "notification"),
                ("reminder", "reminder"), ("reply", "reply"), ("policy", "by silent policy"))
HOST_HEADINGS = ("host", "state", "disabled", "emptying", "plugins", "enabled at", "moves off")
BATCH_HEADINGS = ("batch", "hosts", "from start", "took", "moving servers", "plugins and checks", "the rest")
MOVE_HEADINGS = ("server", "project", "action", "from", "to", "state", "took")
PROJECT_HEADINGS = ("project", "asked", "reminders", "replies", "by silent policy", "median reply", "unreachable")

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
        return round(LABEL_WIDTH + PLOT_WIDTH * min(max(self.offset(at), 0.0), self.seconds) / self.seconds, 2)

    def offset(self, at: str) -> float:
        return (parse_time(at) - self.start).total_seconds()

    def clock(self, at: str) -> str:
        """The moment as ``+m:ss`` since the start, for tooltips."""
        return "+" + _clock(self.offset(at))

    def step(self) -> int:
        return next((step for step in AXIS_STEPS if self.seconds / step <= 10), AXIS_STEPS[-1])


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return ("%d:%02d:%02d" % (hours, rest // 60, rest % 60)) if hours else ("%d:%02d" % (rest // 60, rest % 60))


def _duration(seconds: Optional[float]) -> str:
    return "-" if seconds is None else ("%.1f s" % seconds if seconds < 120 else _clock(seconds))


def _short(text: str, length: int = 26) -> str:
    return text if len(text) <= length else text[:length - 1] + "\u2026"


def _md(value: Any) -> str:
    """A Markdown table cell: pipes and line breaks would break the table, markup is shown as text."""
    text = re.sub(r"([\\`*\[\]|])", r"\\\1", escape(str(value), quote=False)).replace("\n", " ")
    return text or "-"


# ---------------------------------------------------------------- Jinja2

_TEMPLATES: Dict[str, Any] = {}


def _template(name: str):
    """The template compiled once; SVG and HTML escape every value, the Markdown escapes its cells itself."""
    if name not in _TEMPLATES:
        if jinja2 is None:
            raise ReportError("report: rendering the report needs the Python package jinja2"
                              " (pip install jinja2): %s" % JINJA2_IMPORT_ERROR)
        environment = jinja2.Environment(autoescape=not name.endswith("MARKDOWN"), undefined=jinja2.StrictUndefined,
                                         trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        environment.filters["md"] = _md
        _TEMPLATES[name] = environment.from_string(getattr(templates, name))
    return _TEMPLATES[name]


# ---------------------------------------------------------------- the picture

def render_svg(report: Dict[str, Any]) -> str:
    """The timeline: an axis, one row per host with its phases and moves, one row per project."""
    return _template("SVG").render(svg_view(report))


def svg_view(report: Dict[str, Any]) -> Dict[str, Any]:
    """Everything the SVG template draws, laid out."""
    timeline, session = report["timeline"], report["session"]
    scale = _Scale(timeline["start"], timeline["seconds"])
    hosts, projects = report["hosts"], report["projects"]
    gap = 12 if projects else 0
    plot_bottom = TOP + (1 + len(hosts) + len(projects)) * ROW_HEIGHT + gap
    moves_by_host: Dict[str, List[dict]] = {}
    for move in report["moves"]:
        moves_by_host.setdefault(move["from_host"], []).append(move)
    host_rows = [_host_row(index, host, moves_by_host.get(host["host"], []), scale, TOP + (1 + index) * ROW_HEIGHT)
                 for index, host in enumerate(hosts)]
    first_project_y = TOP + (1 + len(hosts)) * ROW_HEIGHT + gap
    project_rows = [_project_row(index, project, scale, first_project_y + index * ROW_HEIGHT)
                    for index, project in enumerate(projects)]
    return {
        "width": LABEL_WIDTH + PLOT_WIDTH + 60, "height": plot_bottom + 40,
        "session_id": session["session_id"], "state": session["state"],
        "heading_id": _short(session["session_id"], 60), "duration": _duration(timeline["seconds"]),
        "axis": _axis(scale, timeline, plot_bottom),
        "band": {"width": LABEL_WIDTH + PLOT_WIDTH, "height": ROW_HEIGHT - 2},
        "row_height": ROW_HEIGHT, "bar_height": BAR_HEIGHT,
        "session_row": _session_row(report, scale, TOP),
        "hosts": host_rows, "projects": project_rows,
        "legend": _legend(plot_bottom + 16),
    }


def _axis(scale: _Scale, timeline: Dict[str, Any], bottom: int) -> Dict[str, Any]:
    step, ticks, tick = scale.step(), [], 0
    while tick <= scale.seconds + 1e-6:
        ticks.append({"x": round(LABEL_WIDTH + PLOT_WIDTH * tick / scale.seconds, 2), "label": _clock(tick)})
        tick += step
    return {"ticks": ticks, "top": TOP - 6, "bottom": bottom, "label_y": TOP - 10,
            "start": parse_time(timeline["start"]).strftime("%Y-%m-%d %H:%M:%S")}


def _row(kind: str, index: int, data: List[tuple], y: int, label: str, tip: str) -> Dict[str, Any]:
    return {"kind": kind, "index": index, "data": data, "y": y, "label": _short(label), "tip": tip}


def _session_row(report: Dict[str, Any], scale: _Scale, y: int) -> Dict[str, Any]:
    row = _row("session", 0, [("row", "session")], y, "session", "session")
    changes = report["session_states"]
    row["changes"] = []
    for index, change in enumerate(changes):
        x = scale.x(change["at"])
        label = STATE_LABELS.get(change["state"], change["state"] or "")
        # A label that would run into the next state's is left to the tooltip.
        room = (scale.x(changes[index + 1]["at"]) if index + 1 < len(changes) else LABEL_WIDTH + PLOT_WIDTH + 50) - x
        row["changes"].append({
            "state": change["state"], "x": x, "top": y + 3, "bottom": y + ROW_HEIGHT - 5, "label_y": y + 16,
            "colour": "#d62728" if change["state"] == "MAINTENANCE_FAILED" else "#333",
            "label": label if room > 6 * len(label) + 12 else "",
            "tip": "%s at %s%s" % (change["state"], scale.clock(change["at"]),
                                   ": " + change["reason"] if change.get("reason") else ""),
        })
    return row


def _host_row(index: int, host: Dict[str, Any], moves: List[dict], scale: _Scale, y: int) -> Dict[str, Any]:
    row = _row("host", index, [("host", host["host"]), ("state", host["state"])], y, host["host"], host["host"])
    bar_y = y + (ROW_HEIGHT - 2 - BAR_HEIGHT) // 2
    row["bar_y"] = bar_y
    row["phases"] = []
    for phase in host["phases"]:
        x1, x2 = scale.x(phase["start"]), scale.x(phase["end"])
        row["phases"].append({
            "phase": phase["phase"], "x": x1, "width": round(max(x2 - x1, 2.0), 2),
            "colour": PHASE_COLOURS[phase["phase"]],
            "tip": "%s %s: %s, from %s for %s" % (host["host"], phase["phase"], PHASE_TEXT[phase["phase"]],
                                                  scale.clock(phase["start"]),
                                                  _duration(phase["seconds"]) if phase["end"] else "until the end"),
        })
    row["moves"] = [_move_tick(lane, move, scale, bar_y) for lane, move in enumerate(moves)]
    row["failure"] = None
    if host["failed_at"]:
        row["failure"] = {"x": scale.x(host["failed_at"]),
                          "tip": "%s failed at %s" % (host["host"], scale.clock(host["failed_at"]))}
    return row


def _move_tick(lane: int, move: Dict[str, Any], scale: _Scale, bar_y: int) -> Dict[str, Any]:
    tip = "%s (%s) of project %s: %s to %s, %s, %s" % (
        label_of(move.get("instance_name"), move["instance_id"]), move["action"],
        label_of(move.get("project_name"), move["project_id"]), move["from_host"],
        move["to_host"] or move["target_host"] or "the scheduler's choice", move["state"].lower(),
        _duration(move["seconds"]))
    if move["error"]:
        tip += ": " + move["error"]
    # Moves run side by side: each duration line gets its own height in the bar.
    return {"instance_id": move["instance_id"], "action": move["action"], "failed": move["state"] == "FAILED",
            "x": scale.x(move["started_at"]), "x_end": scale.x(move["ended_at"]), "span_y": bar_y + 2 + 3 * (lane % 5),
            "tip": tip}


def _project_row(index: int, project: Dict[str, Any], scale: _Scale, y: int) -> Dict[str, Any]:
    name, project_id = project.get("project_name"), project["project_id"]
    row = _row("project", index, [("project", project_id)], y, name or project_id, label_of(name, project_id))
    row["middle"] = y + (ROW_HEIGHT - 2) // 2
    row["done"] = [{"x": scale.x(notice["at"]), "instance": notice["instance_id"]}
                   for notice in project["instance_action_done"]]
    row["notifications"] = [{
        "x": scale.x(item["at"]), "state": item["state"], "reminder": item["reminder"],
        "tip": "%s %s at %s" % ("reminded of" if item["reminder"] else "asked", item["state"], scale.clock(item["at"])),
    } for item in project["notifications"]]
    row["replies"] = []
    for reply in project["replies"]:
        nack = (reply["reply"] or "").startswith("NACK_")
        by_policy = reply["decided_by"] == "policy"
        row["replies"].append({
            "x": scale.x(reply["at"]), "reply": reply["reply"], "decided_by": reply["decided_by"],
            "fill": "#fff" if by_policy else ("#d62728" if nack else "#2ca02c"),
            "stroke": "#d62728" if nack else "#2ca02c",
            "tip": "%s at %s%s%s" % (reply["reply"], scale.clock(reply["at"]),
                                     ", after %s" % _duration(reply["seconds"]) if reply["seconds"] is not None else "",
                                     _policy_note(reply) if by_policy else ""),
        })
    return row


def _policy_note(reply: Dict[str, Any]) -> str:
    if reply.get("at_once"):
        return " (the operator's silent policy, at once: the project was silent before)"
    return " (the operator's silent policy)"


def _legend(y: int) -> Dict[str, Any]:
    phases = [{"x": 8 + 85 * index, "name": phase, "colour": PHASE_COLOURS[phase]} for index, phase in enumerate(PHASES)]
    marks, x = [], 8 + 85 * len(PHASES)
    for kind, label in LEGEND_MARKS:
        marks.append({"kind": kind, "label": label, "x": x})
        x += 30 + 6 * len(label)
    return {"y": y, "phases": phases, "marks": marks}


# ---------------------------------------------------------------- the documents

def _host_figures(host: Dict[str, Any]) -> Dict[str, str]:
    figures = {}
    for phase in host["phases"]:
        figures.setdefault(phase["phase"], phase)
    return {name: (_duration(figures[name]["seconds"]) if name in figures and figures[name]["end"] else
                   ("until the end" if name in figures else "-")) for name in PHASES}


def tables(report: Dict[str, Any]) -> Dict[str, Any]:
    """The figures of the HTML page's and the Markdown's tables: rows of cells, each keyed by its id."""
    session, summary = report["session"], report["summary"]
    overview = (
        ("state", session["state"]), ("reason", session["reason"] or "-"), ("started", session["created_at"]),
        ("last change", session["updated_at"]), ("total", _duration(summary["total_seconds"])),
        ("hosts maintained", "%d of %d" % (len(summary["hosts_maintained"]), summary["hosts_total"])),
        ("moves", ", ".join("%s %d" % item for item in sorted(summary["moves"].items())) or "none"),
        ("time spent", _time_spent(report)))
    hosts = []
    for host in report["hosts"]:
        figures = _host_figures(host)
        enabled = next((phase["start"] for phase in host["phases"] if phase["phase"] == "enabled"), "-")
        cells = (host["host"], host["state"], figures["disabled"], figures["emptying"], figures["plugins"],
                 enabled, host["moves"])
        hosts.append({"key": host["host"], "cells": cells})
    batches = [{"key": str(number), "cells": (
        number, ", ".join(batch["hosts"]), _duration(batch["start"]), _duration(batch["seconds"]),
        _duration(batch["moving"]), _duration(batch["plugins_and_checks"]), _duration(batch["other"]))}
        for number, batch in enumerate(report.get("batches", []), 1)]
    moves = [{"key": move["instance_id"], "cells": (
        label_of(move.get("instance_name"), move["instance_id"]), label_of(move.get("project_name"), move["project_id"]),
        move["action"], move["from_host"], move["to_host"] or "-", move["state"], _duration(move["seconds"]))}
        for move in report["moves"]]
    projects = []
    for project in report["projects"]:
        asks = sum(1 for item in project["notifications"] if not item["reminder"])
        latencies = sorted(reply["seconds"] for reply in project["replies"] if reply["seconds"] is not None)
        projects.append({"key": project["project_id"], "cells": (
            label_of(project.get("project_name"), project["project_id"]), asks, len(project["notifications"]) - asks,
            len(project["replies"]), _by_policy(project["replies"]),
            _duration(latencies[len(latencies) // 2]) if latencies else "-",
            _unreachable(report["summary"].get("unreachable", {}).get(project["project_id"])))})
    return {"session_id": session["session_id"], "state": session["state"],
            "overview": [{"key": name, "cells": (name, value)} for name, value in overview],
            "hosts": hosts, "batches": batches, "moves": moves, "projects": projects, "host_headings": HOST_HEADINGS,
            "batch_headings": BATCH_HEADINGS, "move_headings": MOVE_HEADINGS, "project_headings": PROJECT_HEADINGS}


def _time_spent(report: Dict[str, Any]) -> str:
    """"moving servers 30.0 s, plugins and checks 15.0 s, waiting for projects 42.0 s (tenant-a 8.0 s, ...),
    the rest 15.0 s; wall / busy 2.22"."""
    spent = report.get("time_spent")
    if not spent:
        return "-"
    names = {project["project_id"]: project.get("project_name") for project in report["projects"]}
    by_project = ", ".join("%s %s" % (label_of(names.get(project_id), project_id), _duration(seconds))
                           for project_id, seconds in sorted(spent["waiting_by_project"].items(),
                                                             key=lambda item: -item[1]) if seconds)
    text = "moving servers %s, plugins and checks %s, waiting for projects %s%s, the rest %s" % (
        _duration(spent["moving"]), _duration(spent["plugins_and_checks"]), _duration(spent["waiting_for_projects"]),
        " (%s)" % by_project if by_project else "", _duration(spent["other"]))
    if spent.get("outside_batches") is not None and report.get("batches"):
        text += "; outside the batches %s" % _duration(spent["outside_batches"])
    if spent["wall_per_busy"] is not None:
        text += "; wall / busy %.2f" % spent["wall_per_busy"]
    return text


def _by_policy(replies: List[Dict[str, Any]]) -> str:
    """How many answers the silent policy gave, and how many of them without waiting."""
    by_policy = [reply for reply in replies if reply["decided_by"] == "policy"]
    at_once = sum(1 for reply in by_policy if reply.get("at_once"))
    return "%d%s" % (len(by_policy), " (%d at once)" % at_once if at_once else "")


def _unreachable(figures: Optional[Dict[str, Any]]) -> str:
    """At how many asks no transport reached the project, why (the last time), and who decided then."""
    if not figures:
        return "-"
    deciders = ", ".join("%s %d" % (who if who != "none" else "nobody", count)
                         for who, count in sorted(figures["decided_by"].items()) if count)
    plural = "" if figures["asks"] == 1 else "s"
    return "%d ask%s: %s; decided by %s" % (figures["asks"], plural, figures["why"], deciders)


def render_markdown(report: Dict[str, Any], svg_name: Optional[str] = None) -> str:
    """The tables, and the picture by link when ``svg_name`` (a relative URL) is given."""
    return _template("MARKDOWN").render(tables(report), svg_name=svg_name)


def render_html(report: Dict[str, Any], svg: Optional[str] = None) -> str:
    """One self-contained page: the timeline inlined, the tables, no external resource."""
    return _template("HTML").render(tables(report), svg=svg if svg is not None else render_svg(report))


# ---------------------------------------------------------------- the plan page

def render_plan(description: Dict[str, Any], title: str, html: bool) -> str:
    """The plan page (planning/explain.describe's rows) as one self-contained HTML page, or as Markdown."""
    return _template("PLAN_HTML" if html else "PLAN_MARKDOWN").render(
        description, title=title, move_headings=PLAN_MOVE_HEADINGS)
