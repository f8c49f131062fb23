"""What the plan's estimate learns from the journal's earlier sessions (planning/history.py)."""

from ansible_collections.fenix.maintenance.plugins.module_utils.planning.history import (
    learned_estimates, learned_from_sessions, learned_lines)


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
        "estimate learnt: batch_overhead_seconds 5 s (the median of the last 3 batches in the journal),"
        " host_seconds 8 s (the median of the last 3 batches in the journal), session_overhead_seconds 9 s"
        " (the median of the last 2 sessions in the journal)"]


def test_one_batch_says_too_little_of_a_batch_and_a_session_without_batches_nothing():
    assert learned_from_sessions([report(40, (6, 30, 9, 5)), report(3)]) == {
        "session_overhead_seconds": {"seconds": 10.0, "sessions": 1}}
    assert learned_from_sessions([]) == {}


def journal_of(**durations):
    """recent_move_seconds of a journal holding these moves' durations per action, counting its reads."""
    reads = []

    def recent_move_seconds(action, limit):
        reads.append(action)
        return durations.get(action, [])[:limit]
    return recent_move_seconds, reads


def test_a_kind_of_move_is_learnt_from_the_journal_and_else_from_the_clouds_migrations():
    journal, _reads = journal_of(LIVE_MIGRATE=[7, 8, 9, 30, 8.5], MIGRATE=[4, 5])
    cloud_reads = []

    def in_the_cloud():
        cloud_reads.append(1)
        return {"LIVE_MIGRATE": [1, 1, 1, 1, 1], "MIGRATE": [12, 11, 13, 60, 12, 12]}
    learned = learned_estimates(journal, in_the_cloud)
    # The journal's own moves come first; two cold ones are too few, so Nova's six tell, read once.
    assert learned == {"live_migration_seconds": {"seconds": 8.5, "moves": 5},
                       "cold_migration_seconds": {"seconds": 12, "migrations": 6}}
    assert cloud_reads == [1]
    assert learned_lines(learned) == [
        "estimate learnt: cold_migration_seconds 12 s (the median of the last 6 migrations Nova lists),"
        " live_migration_seconds 8.5 s (the median of the last 5 moves in the journal)"]


def test_the_cloud_is_not_read_when_the_journal_or_the_options_say_it_all():
    journal, reads = journal_of(LIVE_MIGRATE=[5] * 5, MIGRATE=[9] * 5)

    def unread():
        raise AssertionError("Nova's migrations read though the journal had enough")
    assert learned_estimates(journal, unread) == {"live_migration_seconds": {"seconds": 5, "moves": 5},
                                                  "cold_migration_seconds": {"seconds": 9, "moves": 5}}
    empty, reads = journal_of()
    given = ("live_migration_seconds", "cold_migration_seconds")
    assert learned_estimates(empty, unread, given) == {} and reads == []


def test_fewer_than_five_migrations_in_the_cloud_teach_nothing():
    empty, _reads = journal_of()
    learned = learned_estimates(empty, lambda: {"LIVE_MIGRATE": [3, 3, 3, 3], "MIGRATE": []})
    assert learned == {} and learned_lines(learned) == []
    assert learned_estimates(empty) == {}
