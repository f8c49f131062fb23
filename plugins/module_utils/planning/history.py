# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""How long a move, a batch and a session take on this cloud, as the journal's earlier runs tell it, for the
plan's estimate.

An operator rarely knows how long a live migration takes on their cloud; the journal does, once
a maintenance ran: each move's start (before Nova was asked) and end (when the run saw it done).
Before that, Nova's migrations list does, for the servers that moved before whoever moved them.
The run reports of the latest finished sessions tell the rest: each batch's plugins and checks,
the tasks around a batch's work (the rest of its time, and the gap to the next batch), and the
session's own steps before its first batch and after its last.
"""

from __future__ import annotations

import statistics
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import LIVE_MIGRATE, MIGRATE

# The latest moves of a kind that count: recent enough to be this cloud as it is now.
MOVES_LEARNED_FROM = 100
# Fewer moves than this say too little; the estimate keeps its default then.
FEWEST_MOVES = 5
# The estimate each kind of move informs.
ESTIMATE_OF = {LIVE_MIGRATE: "live_migration_seconds", MIGRATE: "cold_migration_seconds"}
# The latest finished sessions whose batches count.
SESSIONS_LEARNED_FROM = 3
# Fewer batches than this say too little of a batch's time; one session says its own start and end.
FEWEST_BATCHES = 2


def typical_seconds(durations: Sequence[float]) -> float:
    """The median, which one move stuck behind a slow host does not pull up."""
    return round(statistics.median(durations), 1)


def learned_estimates(recent_move_seconds: Callable[[str, int], List[float]],
                      cloud_move_seconds: Optional[Callable[[], Dict[str, List[float]]]] = None,
                      given: Sequence[str] = ()) -> Dict[str, dict]:
    """Per estimate not ``given``, ``{seconds, moves}`` from the journal's moves of its kind that ended well (at
    least FEWEST_MOVES), else ``{seconds, migrations}`` from the cloud's.

    ``recent_move_seconds(action, limit)``: the durations of the journal's latest ``limit`` such moves.
    ``cloud_move_seconds()``: per action, those of the cloud's latest migrations (Nova's list; read once, and only
    when the journal lacks a kind).
    """
    learned: Dict[str, dict] = {}
    lacking = []
    for action, key in ESTIMATE_OF.items():
        if key in given:
            continue
        durations = recent_move_seconds(action, MOVES_LEARNED_FROM)
        if len(durations) >= FEWEST_MOVES:
            learned[key] = {"seconds": typical_seconds(durations), "moves": len(durations)}
        else:
            lacking.append(action)
    if lacking and cloud_move_seconds is not None:
        in_the_cloud = cloud_move_seconds()
        for action in lacking:
            durations = in_the_cloud.get(action, [])
            if len(durations) >= FEWEST_MOVES:
                learned[ESTIMATE_OF[action]] = {"seconds": typical_seconds(durations), "migrations": len(durations)}
    return learned


# What learned_from_sessions reads of each batch of a run report.
BATCH_FIGURES = ("start", "seconds", "plugins_and_checks", "other")


def session_figures(report: Mapping[str, Any]) -> Dict[str, Any]:
    """The part of a run report (report.build) that learned_from_sessions reads, in the same shape."""
    return {"time_spent": {"seconds": report["time_spent"]["seconds"]},
            "batches": [{key: batch[key] for key in BATCH_FIGURES} for batch in report.get("batches") or []]}


def learned_from_sessions(reports: Sequence[Mapping[str, Any]]) -> Dict[str, dict]:
    """``host_seconds`` and ``batch_overhead_seconds`` (each ``{seconds, batches}``) and ``session_overhead_seconds``
    (``{seconds, sessions}``) from the run reports (report.build, or their session_figures) of finished sessions
    that had batches.

    A batch's overhead is the rest of its own time and the gap to the next batch's first disable; the session's is
    its time before the first batch and after the last.
    """
    hosts: List[float] = []
    overheads: List[float] = []
    sessions: List[float] = []
    for report in reports:
        batches = report.get("batches") or []
        if not batches:
            continue
        ends = [batch["start"] + batch["seconds"] for batch in batches]
        gaps = [max(0.0, following["start"] - end) for following, end in zip(batches[1:], ends)] + [0.0]
        hosts += [batch["plugins_and_checks"] for batch in batches]
        overheads += [batch["other"] + gap for batch, gap in zip(batches, gaps)]
        sessions.append(max(0.0, report["time_spent"]["seconds"] - ends[-1] + batches[0]["start"]))
    learned = {}
    if len(overheads) >= FEWEST_BATCHES:
        learned["host_seconds"] = {"seconds": typical_seconds(hosts), "batches": len(hosts)}
        learned["batch_overhead_seconds"] = {"seconds": typical_seconds(overheads), "batches": len(overheads)}
    if sessions:
        learned["session_overhead_seconds"] = {"seconds": typical_seconds(sessions), "sessions": len(sessions)}
    return learned


def learned_lines(learned: Dict[str, dict]) -> List[str]:
    """The explanation's line saying which estimates the journal or Nova gave (none when they gave none)."""
    if not learned:
        return []
    return ["estimate learnt: %s" % ", ".join(
        "%s %g s (the median of the last %d %s)" % (key, value["seconds"], *_count(value))
        for key, value in sorted(learned.items()))]


def default_lines(defaults: Mapping[str, float]) -> List[str]:
    """The explanation's line naming the durations the estimate took from its defaults (none when it took none):
    an operator reading a first run's estimate should know how little it knows."""
    if not defaults:
        return []
    return ["estimate with defaults (not given, and nothing in the journal or Nova to learn them from yet): %s" % ", ".join(
        "%s %g s" % (key, seconds) for key, seconds in sorted(defaults.items()))]


# What a learned estimate was taken from, as the explanation names it.
SOURCE_NAMES = {"moves": "moves in the journal", "batches": "batches in the journal",
                "sessions": "sessions in the journal", "migrations": "migrations Nova lists"}


def _count(value: Mapping[str, Any]):
    """(how many, of what) a learned estimate was taken from."""
    return next((value[unit], name) for unit, name in SOURCE_NAMES.items() if unit in value)
