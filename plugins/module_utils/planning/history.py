# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""How long a move takes on this cloud, as the journal's earlier moves tell it, for the plan's estimate.

An operator rarely knows how long a live migration takes on their cloud; the journal does, once
a maintenance ran: each move's start (before Nova was asked) and end (when the run saw it done).
"""

from __future__ import annotations

import statistics
from typing import Dict, List, Sequence

from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import LIVE_MIGRATE, MIGRATE

# The latest moves of a kind that count: recent enough to be this cloud as it is now.
MOVES_LEARNED_FROM = 100
# Fewer moves than this say too little; the estimate keeps its default then.
FEWEST_MOVES = 5
# The estimate each kind of move informs.
ESTIMATE_OF = {LIVE_MIGRATE: "live_migration_seconds", MIGRATE: "cold_migration_seconds"}


def typical_seconds(durations: Sequence[float]) -> float:
    """The median, which one move stuck behind a slow host does not pull up."""
    return round(statistics.median(durations), 1)


def learned_estimates(recent_move_seconds) -> Dict[str, dict]:
    """Per estimate, ``{seconds, moves}`` from the kinds of move with at least FEWEST_MOVES that ended well.

    ``recent_move_seconds(action, limit)``: the durations of the latest ``limit`` such moves (the journal's).
    """
    learned = {}
    for action, key in ESTIMATE_OF.items():
        durations: List[float] = recent_move_seconds(action, MOVES_LEARNED_FROM)
        if len(durations) >= FEWEST_MOVES:
            learned[key] = {"seconds": typical_seconds(durations), "moves": len(durations)}
    return learned


def learned_lines(learned: Dict[str, dict]) -> List[str]:
    """The explanation's line saying which estimates the journal gave (none when it gave none)."""
    if not learned:
        return []
    return ["estimate from the journal: %s" % ", ".join(
        "%s %g s (the median of its last %d)" % (key, value["seconds"], value["moves"])
        for key, value in sorted(learned.items()))]
