"""One run per session: the lease in the journal, on SQLite and on PostgreSQL.

Expiry is tested with a clock the test moves (no sleeping); the races start
real processes, each with its own Journal on the same file or database.
"""

import multiprocessing
from datetime import timedelta

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import TIME_FORMAT, parse_time
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.backends import (
    PostgreSQLBackend,
    SQLiteBackend,
    is_dsn,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    JournalError,
    Lease,
    LeaseHeld,
    LeaseLost,
    SessionNotFound,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.schema import MIGRATIONS, SCHEMA_VERSION
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

RUN_A = "ansible-playbook pid 1234 on host-a"
RUN_B = "AWX job 4711"
T0 = "2026-11-22T12:00:00.000000Z"


class Clock:
    """A clock that stands still until the test moves it; shared by the journals of one test."""

    def __init__(self, start=T0):
        self.moment = parse_time(start)

    def __call__(self):
        return self.moment.strftime(TIME_FORMAT)

    def advance(self, seconds):
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def runs(location, clock):
    """Two runs' journals (two connections) on one location, and a session."""
    first, second = Journal(location, clock=clock), Journal(location, clock=clock)
    sid = first.create_session(["compute1"], session_id="s1").session_id
    yield first, second, sid
    first.close()
    second.close()


def lease_events(journal, sid):
    return [(event["kind"], event["details"]) for event in journal.events(sid) if event["kind"].startswith("lease.")]


def test_a_lease_is_acquired_renewed_and_released(runs, clock):
    journal, _other, sid = runs
    acquired = journal.acquire_lease(sid, RUN_A, 60)
    assert acquired == Lease(sid, RUN_A, T0, T0, "2026-11-22T12:01:00.000000Z")
    assert journal.lease(sid) == acquired

    clock.advance(20)
    renewed = journal.renew_lease(sid, RUN_A, 90.5)
    assert renewed == Lease(sid, RUN_A, T0, "2026-11-22T12:00:20.000000Z", "2026-11-22T12:01:50.500000Z")
    assert journal.lease(sid) == renewed

    assert journal.release_lease(sid, RUN_A) is True
    assert journal.lease(sid) is None
    assert journal.release_lease(sid, RUN_A) is False  # idempotent
    assert lease_events(journal, sid) == [("lease.acquired", {"holder": RUN_A}),
                                          ("lease.released", {"holder": RUN_A})]


def test_a_second_run_is_refused_saying_who_holds_it_since_when_and_until_when(runs, clock):
    first, second, sid = runs
    first.acquire_lease(sid, RUN_A, 60)
    clock.advance(10)
    held = first.renew_lease(sid, RUN_A, 60)

    with pytest.raises(LeaseHeld) as refused:
        second.acquire_lease(sid, RUN_B, 60)
    assert str(refused.value) == (
        "session s1 is being run by ansible-playbook pid 1234 on host-a since 2026-11-22T12:00:00Z"
        " (lease renewed 0 s ago, expires 2026-11-22T12:01:10Z); wait for that run to end, or stop it and run"
        " again: a lease its holder no longer renews is taken over once it expires, and at once from the"
        " holder's own machine when its process has ended")
    clock.advance(7)
    with pytest.raises(LeaseHeld, match=r"\(lease renewed 7 s ago, expires 2026-11-22T12:01:10Z\)"):
        second.acquire_lease(sid, RUN_B, 60)
    assert refused.value.lease == held
    assert isinstance(refused.value, JournalError) and isinstance(refused.value, MaintenanceError)
    assert second.lease(sid) == held  # the refused run changed nothing
    with pytest.raises(LeaseLost):
        second.renew_lease(sid, RUN_B, 60)
    assert second.release_lease(sid, RUN_B) is False  # only the holder releases: a no-op for anyone else
    assert first.lease(sid) == held


def test_a_lease_is_held_until_the_instant_it_expires(runs, clock):
    first, second, sid = runs
    first.acquire_lease(sid, RUN_A, 60)
    clock.advance(59.999999)
    with pytest.raises(LeaseHeld):
        second.acquire_lease(sid, RUN_B, 60)
    clock.advance(0.000001)
    assert second.acquire_lease(sid, RUN_B, 60).holder == RUN_B


def test_an_expired_lease_is_taken_over_and_its_old_holder_has_lost_it(runs, clock):
    killed, resumed, sid = runs
    killed.acquire_lease(sid, RUN_A, 60)
    clock.advance(61)  # RUN_A was killed: it renews no more

    taken = resumed.acquire_lease(sid, RUN_B, 120)
    assert taken == Lease(sid, RUN_B, "2026-11-22T12:01:01.000000Z", "2026-11-22T12:01:01.000000Z",
                          "2026-11-22T12:03:01.000000Z")
    assert lease_events(resumed, sid)[-1] == (
        "lease.acquired", {"holder": RUN_B, "taken_over_from": RUN_A, "expired_at": "2026-11-22T12:01:00.000000Z"})

    with pytest.raises(LeaseLost) as lost:
        killed.renew_lease(sid, RUN_A, 60)
    assert str(lost.value) == (
        "session s1: ansible-playbook pid 1234 on host-a lost its lease: it expired and AWX job 4711 took it"
        " over at 2026-11-22T12:01:01Z; stop this run, the session is run by AWX job 4711")
    assert killed.release_lease(sid, RUN_A) is False
    with pytest.raises(LeaseHeld, match="is being run by AWX job 4711 since 2026-11-22T12:01:01Z"):
        killed.acquire_lease(sid, RUN_A, 60)
    assert resumed.lease(sid) == taken


def test_a_lease_whose_holder_ended_is_taken_over_at_once(runs, clock):
    killed, resumed, sid = runs
    killed.acquire_lease(sid, RUN_A, 60)
    clock.advance(5)  # far from expiry, but RUN_A's process is gone (judged on its machine)
    judged = []

    def ended(lease):
        judged.append(lease.holder)
        return lease.holder == RUN_A

    taken = resumed.acquire_lease(sid, RUN_B, 60, ended=ended)
    assert taken == Lease(sid, RUN_B, "2026-11-22T12:00:05.000000Z", "2026-11-22T12:00:05.000000Z",
                          "2026-11-22T12:01:05.000000Z")
    assert judged == [RUN_A]
    assert lease_events(resumed, sid)[-1] == (
        "lease.acquired", {"holder": RUN_B, "taken_over_from": RUN_A, "holder_ended": True})
    with pytest.raises(LeaseLost):
        killed.renew_lease(sid, RUN_A, 60)
    assert killed.release_lease(sid, RUN_A) is False  # the ended run's keeper frees nothing of the new holder's


def test_held_lease_says_what_acquire_would_refuse(runs, clock):
    first, second, sid = runs
    assert second.held_lease(sid) is None
    held = first.acquire_lease(sid, RUN_A, 60)
    with pytest.raises(LeaseHeld):
        second.acquire_lease(sid, RUN_B, 60, ended=lambda lease: False)
    assert second.held_lease(sid) == held  # held against anyone
    assert second.held_lease(sid, RUN_B, ended=lambda lease: False) == held
    assert second.held_lease(sid, RUN_B, ended=lambda lease: True) is None
    assert second.held_lease(sid, RUN_A) is None  # not against its own holder
    clock.advance(60)
    assert second.held_lease(sid, RUN_B) is None  # expired
    assert second.lease(sid) == held  # judging changed nothing


def test_renewing_late_keeps_a_lease_nobody_took(runs, clock):
    first, second, sid = runs
    first.acquire_lease(sid, RUN_A, 60)
    clock.advance(300)
    assert first.renew_lease(sid, RUN_A, 60).expires_at == "2026-11-22T12:06:00.000000Z"
    with pytest.raises(LeaseHeld):
        second.acquire_lease(sid, RUN_B, 60)


def test_acquiring_a_lease_one_holds_renews_it(runs, clock):
    journal, _other, sid = runs
    journal.acquire_lease(sid, RUN_A, 60)
    clock.advance(30)
    again = journal.acquire_lease(sid, RUN_A, 60)
    assert again == Lease(sid, RUN_A, T0, "2026-11-22T12:00:30.000000Z", "2026-11-22T12:01:30.000000Z")
    clock.advance(100)  # expired, untaken: still its own, still since T0
    assert journal.acquire_lease(sid, RUN_A, 60).acquired_at == T0
    assert [kind for kind, _details in lease_events(journal, sid)] == ["lease.acquired"]


def test_renewing_a_released_lease_fails(runs):
    journal, _other, sid = runs
    journal.acquire_lease(sid, RUN_A, 60)
    journal.release_lease(sid, RUN_A)
    with pytest.raises(LeaseLost) as lost:
        journal.renew_lease(sid, RUN_A, 60)
    assert str(lost.value) == (
        "session s1: ansible-playbook pid 1234 on host-a holds no lease on it (released, or taken over and"
        " released since); stop this run and acquire the lease again before acting on the session")


def test_each_session_has_its_own_lease(runs):
    first, second, sid = runs
    other = first.create_session(["compute2"], session_id="s2").session_id
    first.acquire_lease(sid, RUN_A, 60)
    assert second.acquire_lease(other, RUN_B, 60).holder == RUN_B
    assert (first.lease(sid).holder, first.lease(other).holder) == (RUN_A, RUN_B)


def test_a_lease_belongs_to_a_session_in_the_journal(runs):
    journal, _other, _sid = runs
    with pytest.raises(SessionNotFound, match="session gone is not in the journal"):
        journal.acquire_lease("gone", RUN_A, 60)
    with pytest.raises(SessionNotFound):
        journal.renew_lease("gone", RUN_A, 60)
    assert journal.lease("gone") is None
    assert journal.release_lease("gone", RUN_A) is False


def test_deleting_a_session_deletes_its_lease(runs):
    first, second, sid = runs
    first.acquire_lease(sid, RUN_A, 60)
    first.delete_session(sid)
    assert first.lease(sid) is None
    assert first._run("SELECT COUNT(*) AS n FROM leases").fetchone()["n"] == 0
    second.create_session(["compute1"], session_id=sid)
    assert second.acquire_lease(sid, RUN_B, 60).holder == RUN_B  # no leftover of the deleted session's run


@pytest.mark.parametrize("holder, ttl, field", [
    ("", 60, "holder"), ("  ", 60, "holder"), (None, 60, "holder"),
    (RUN_A, 0, "ttl"), (RUN_A, -5, "ttl"), (RUN_A, "60", "ttl"), (RUN_A, True, "ttl"),
])
def test_a_lease_needs_a_holder_and_a_positive_duration(runs, holder, ttl, field):
    journal, _other, sid = runs
    with pytest.raises(JournalError, match="^%s: " % field):
        journal.acquire_lease(sid, holder, ttl)
    with pytest.raises(JournalError, match="^%s: " % field):
        journal.renew_lease(sid, holder, ttl)
    assert journal.lease(sid) is None


# The races: each process opens its own Journal, all wait at a barrier, then all acquire at once.

RACERS = 6
ROUNDS = 3


def race(location, clock_at, index, session_ids, barrier, results):
    journal = Journal(location, clock=lambda: clock_at)
    holder = "racer %d" % index
    for sid in session_ids:
        barrier.wait(timeout=60)
        try:
            journal.acquire_lease(sid, holder, 60)
            results.put((sid, holder, "won"))
        except LeaseHeld as exc:
            results.put((sid, holder, "held by %s" % exc.lease.holder))
        except Exception as exc:  # the test reports it: any other outcome is a failure
            results.put((sid, holder, "error %r" % (exc,)))
    journal.close()


def run_race(location, clock_at, session_ids):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(RACERS), context.Queue()
    racers = [context.Process(target=race, args=(location, clock_at, index, session_ids, barrier, results))
              for index in range(RACERS)]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=120) for _racer in range(RACERS * len(session_ids))]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    return outcomes


def assert_one_winner_each(location, outcomes, session_ids):
    journal = Journal(location)
    for sid in session_ids:
        mine = [(holder, outcome) for each, holder, outcome in outcomes if each == sid]
        winners = [holder for holder, outcome in mine if outcome == "won"]
        assert len(winners) == 1, mine
        assert sorted(outcome for _holder, outcome in mine if outcome != "won") == ["held by %s" % winners[0]] * (
            RACERS - 1)
        assert journal.lease(sid).holder == winners[0]
    journal.close()


def test_processes_racing_for_a_free_lease_leave_it_to_exactly_one(location):
    session_ids = ["free-%d" % round_ for round_ in range(ROUNDS)]
    journal = Journal(location)
    for sid in session_ids:
        journal.create_session(["compute1"], session_id=sid)
    journal.close()  # nothing of the parent's connection crosses the fork
    outcomes = run_race(location, T0, session_ids)
    assert_one_winner_each(location, outcomes, session_ids)


def test_processes_racing_to_take_over_an_expired_lease_leave_it_to_exactly_one(location):
    session_ids = ["expired-%d" % round_ for round_ in range(ROUNDS)]
    journal = Journal(location, clock=Clock())
    for sid in session_ids:
        journal.create_session(["compute1"], session_id=sid)
        journal.acquire_lease(sid, "killed run", 60)
    journal.close()
    outcomes = run_race(location, "2026-11-22T12:05:00.000000Z", session_ids)
    assert_one_winner_each(location, outcomes, session_ids)


def make_journal_of_version(location, version):
    """A journal as release ``version`` of the schema left it, with a session, a host, an event and a move."""
    backend = PostgreSQLBackend(location) if is_dsn(location) else SQLiteBackend(location)

    def run(sql, args=()):
        backend.db.execute(sql.replace("?", backend.placeholder), args)

    run("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for each in range(1, version + 1):
        for statement in MIGRATIONS[each]:
            run(statement.replace("{serial}", backend.serial))
        run("INSERT INTO schema_version (version) VALUES (?)", (each,))
    run("INSERT INTO sessions VALUES ('old', 'MAINTENANCE', 'default', NULL, '{\"release\": \"2026.2\"}', '{}',"
        " NULL, ?, ?)", (T0, T0))
    run("INSERT INTO hosts (session_id, host, state, disabled_by_session, updated_at)"
        " VALUES ('old', 'compute1', 'DISABLED', 1, ?)", (T0,))
    run("INSERT INTO events (session_id, at, kind) VALUES ('old', ?, 'session.created')", (T0,))
    run("INSERT INTO moves (session_id, instance_id, project_id, action, from_host, state, started_at)"
        " VALUES ('old', 'vm1', 'pa', 'LIVE_MIGRATE', 'compute1', 'RUNNING', ?)", (T0,))
    backend.db.close()


def test_version_4_journal_gains_the_leases_table_with_its_data_intact(location, clock):
    make_journal_of_version(location, 4)
    journal = Journal(location, clock=clock)
    assert journal.schema_version == SCHEMA_VERSION == 6
    versions = journal._run("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [row["version"] for row in versions] == [1, 2, 3, 4, 5, 6]
    session = journal.session("old")
    assert (session.state, session.metadata, session.created_at) == ("MAINTENANCE", {"release": "2026.2"}, T0)
    assert [(h.host, h.state, h.disabled_by_session) for h in journal.hosts("old")] == [("compute1", "DISABLED", True)]
    assert [e["kind"] for e in journal.events("old")] == ["session.created"]
    assert [(m.instance_id, m.state) for m in journal.moves("old")] == [("vm1", "RUNNING")]
    assert journal.lease("old") is None
    assert journal.acquire_lease("old", RUN_A, 60).holder == RUN_A
    journal.close()
    assert Journal(location).lease("old").holder == RUN_A  # opening again migrates nothing more
