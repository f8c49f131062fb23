# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""A plan as an operator reads it before the maintenance: what each batch does, why it is that wide, how long.

``describe`` turns the plan the modules return (``Plan.as_dict``) into the
rows both the dry run's lines (``explain``) and the plan page (report/render)
show: per batch its hosts, the rule that bounds its width, its estimate by
part, each server's move (project by name, target, live or cold, wave) and the
servers left on its hosts.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import label_of
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import LIVE_MIGRATE, MIGRATE, OWN_ACTION

KIND_WORDS = {LIVE_MIGRATE: "live", MIGRATE: "cold", OWN_ACTION: "its project's own action"}
MOVE_HEADINGS = ("wave", "server", "project", "from", "to", "how")
# The dry run's lines show this many moves of a batch; the plan page shows them all.
MOVES_SHOWN_PER_BATCH = 50


def seconds_text(seconds: float) -> str:
    return "%g s" % round(seconds, 1)


def estimate_text(estimate: Mapping[str, Any]) -> str:
    """"notice 30 s + waves 20 s + 10 s + recovery 60 s + host work 300 s + orchestration 20 s"."""
    waves = estimate.get("waves") or []
    parts = ["notice %s" % seconds_text(estimate.get("lead_time", 0))] if estimate.get("lead_time") else []
    if waves and estimate.get("overlapped"):
        parts.append("moves %s (the waves run together)" % seconds_text(waves[0]))
    elif waves:
        parts.append("%s %s" % ("wave" if len(waves) == 1 else "waves", " + ".join(map(seconds_text, waves))))
    if estimate.get("recovery"):
        parts.append("recovery %s" % seconds_text(estimate["recovery"]))
    parts.append("host work %s" % seconds_text(estimate.get("host", 0)))
    if estimate.get("orchestration"):
        parts.append("orchestration %s" % seconds_text(estimate["orchestration"]))
    return " + ".join(parts)


def _total_estimate_text(plan: Mapping[str, Any]) -> str:
    """"95 s (the batches 85 s + the session's start and end 10 s)", or the seconds alone without the latter."""
    total, session = plan.get("estimated_seconds", 0), plan.get("session_overhead_seconds") or 0
    if not session:
        return seconds_text(total)
    return "%s (the batches %s + the session's start and end %s)" % (
        seconds_text(total), seconds_text(total - session), seconds_text(session))


def describe(plan: Mapping[str, Any], project_names: Mapping[str, str]) -> Dict[str, Any]:
    """The plan's overview and its batches as rows of text (cells in MOVE_HEADINGS order)."""
    def project(project_id: str) -> str:
        return label_of(project_names.get(project_id), project_id)

    batches = []
    for number, batch in enumerate(plan.get("batches", []), 1):
        moves = []
        for wave, members in enumerate(batch["waves"], 1):
            for move in members:
                target = move["to_host"] or ("-" if move["kind"] == OWN_ACTION else "(the scheduler chooses)")
                if move.get("moves_again"):
                    target += " (moves again later)"
                moves.append([str(wave), label_of(move["name"], move["server_id"]), project(move["project_id"]),
                              move["from_host"], target, KIND_WORDS.get(move["kind"], move["kind"])])
        skipped = ["%s of %s on %s: %s" % (label_of(item["name"], item["server_id"]), project(item["project_id"]),
                                           item["host"], item["reason"]) for item in batch.get("skipped", [])]
        batches.append({"number": number, "hosts": list(batch["hosts"]), "bound": batch.get("bound") or "",
                        "estimated_seconds": batch["estimated_seconds"],
                        "estimate": estimate_text(batch.get("estimate") or {"host": batch["estimated_seconds"]}),
                        "moves": moves, "skipped": skipped})
    return {"overview": _overview(plan, project), "batches": batches}


def _overview(plan: Mapping[str, Any], project) -> List[List[str]]:
    moves = sum(len(wave) for batch in plan.get("batches", []) for wave in batch["waves"])
    serial = ", ".join(map(str, plan.get("serial", []))) or "-"
    rows = [["batches", "%d (hosts per batch: %s)" % (len(plan.get("batches", [])), serial)],
            ["moves", "%d (%d to a host of a later batch, moved again then)" % (moves, plan.get("double_moves", 0))],
            ["estimate", _total_estimate_text(plan)],
            ["projects to ask", ", ".join(project(item["project_id"]) for item in plan.get("projects", [])) or "-"]]
    if plan.get("prepare_host"):
        rows.append(["emptied first (PREPARE_MAINTENANCE)", plan["prepare_host"]])
    for item in plan.get("skipped_hosts", []):
        rows.append(["left out: %s" % item["host"], item["reason"]])
    for item in plan.get("unplanned_hosts", []):
        rows.append(["cannot be planned: %s" % item["host"], item["reason"]])
    for blocker in plan.get("blockers", []):
        rows.append(["blocker", blocker["message"]])
    for item in plan.get("scheduler_moves", []):
        rows.append(["no target named: %s" % label_of(item["name"], item["server_id"]),
                     "%s; the scheduler chooses" % item["reason"]])
    if plan.get("scale_in"):
        short = plan["scale_in"]
        rows.append(["capacity is short (SCALE_IN)", "%s vCPU, %s MB RAM, %s GB disk must be freed on %s" % (
            short["vcpus"], short["memory_mb"], short["disk_gb"], ", ".join(short["hosts"]))])
    if plan.get("over_fill"):
        over = plan["over_fill"]
        rows.append(["targets past max_fill %g" % over["max_fill"], "%d servers onto %s (no host had the room under it)"
                     % (over["servers"], ", ".join(over["hosts"]))])
    return rows


def explain(plan: Mapping[str, Any], project_names: Mapping[str, str],
            moves_shown: int = MOVES_SHOWN_PER_BATCH) -> List[str]:
    """The dry run's lines: the overview, then each batch with its bound, estimate, moves and servers left."""
    description = describe(plan, project_names)
    lines = ["%s: %s" % (name, value) for name, value in description["overview"]]
    for batch in description["batches"]:
        bound = "not wider: %s" % batch["bound"] if batch["bound"] else "no bound given"
        lines.append("batch %d: %s (%s)" % (batch["number"], ", ".join(batch["hosts"]), bound))
        lines.append("  estimate %s: %s" % (seconds_text(batch["estimated_seconds"]), batch["estimate"]))
        for wave, server, project, source, target, how in batch["moves"][:moves_shown]:
            lines.append("  wave %s: %s of %s, %s -> %s, %s" % (wave, server, project, source, target, how))
        hidden = len(batch["moves"]) - moves_shown
        if hidden > 0:
            lines.append("  ... and %d more moves (the plan page lists them all)" % hidden)
        lines.extend("  stays: %s" % text for text in batch["skipped"])
    return lines
