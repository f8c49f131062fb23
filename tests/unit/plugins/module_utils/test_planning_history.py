"""What the plan's estimate learns from the journal's earlier sessions (planning/history.py)."""

from ansible_collections.fenix.maintenance.plugins.module_utils.planning.history import (
    learned_from_sessions, learned_lines)


def report(total: float, *batches) -> dict:
    """A run report's figures: ``batches`` as (start, seconds, plugins and checks, other)."""
    return {"time_spent": {"seconds": total},
            "batches": [{"hosts": ["c%d" % index], "start": start, "seconds": seconds, "moving": 0.0,
                         "plugins_and_checks": plugins, "other": other}
                        for index, (start, seconds, plugins, other) in enumerate(batches)]}


def test_a_batch_costs_its_rest_and_the_gap_to_the_next_and_the_session_its_start_and_end():
    # 5 s before the first batch, 2 s between the two, 3 s after the last.
    first = report(55, (5, 20, 7, 4), (27, 25, 8, 3))
    # One batch: 6 s before it, 4 s after.
    second = report(40, (6, 30, 9, 5))
    learned = learned_from_sessions([first, second])
    assert learned == {
        "host_seconds": {"seconds": 8.0, "batches": 3},  # the median of 7, 8 and 9
        "batch_overhead_seconds": {"seconds": 5.0, "batches": 3},  # 4 + 2, 3 and 5
        "session_overhead_seconds": {"seconds": 9.0, "sessions": 2},  # the median of 5 + 3 and 6 + 4
    }
    assert learned_lines(learned) == [
        "estimate from the journal: batch_overhead_seconds 5 s (the median of its last 3 batches),"
        " host_seconds 8 s (the median of its last 3 batches), session_overhead_seconds 9 s"
        " (the median of its last 2 sessions)"]


def test_one_batch_says_too_little_of_a_batch_and_a_session_without_batches_nothing():
    assert learned_from_sessions([report(40, (6, 30, 9, 5)), report(3)]) == {
        "session_overhead_seconds": {"seconds": 10.0, "sessions": 1}}
    assert learned_from_sessions([]) == {}
