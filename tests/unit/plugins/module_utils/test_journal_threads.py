"""One Journal shared by threads (as parallel migrations share it): every write lands, none is lost."""

import threading
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

THREADS = 8
ROUNDS = 10


def test_threads_hammering_one_journal_lose_no_write(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"]).session_id
    start = threading.Barrier(THREADS)

    def worker(index):
        start.wait()  # all threads write at once
        for round_ in range(ROUNDS):
            instance_id = "vm-%d-%d" % (index, round_)
            move_id = journal.start_move(sid, instance_id, "p%d" % index, "LIVE_MIGRATE", "compute1")
            with journal.transaction():  # a caller's own transaction, nested ones inside
                journal.set_instance(sid, instance_id, "p%d" % index, host="compute1", action="LIVE_MIGRATE")
                journal.record_event(sid, "test.write", instance_id=instance_id)
            journal.finish_move(move_id, True, "compute2")
            journal.set_instance(sid, instance_id, "p%d" % index, host="compute2", action_done=True)
            assert journal.session(sid).session_id == sid

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(worker, range(THREADS)))

    expected = {"vm-%d-%d" % (index, round_) for index in range(THREADS) for round_ in range(ROUNDS)}
    moves = journal.moves(sid)
    assert len(moves) == THREADS * ROUNDS
    assert {move.instance_id for move in moves} == expected
    assert {(move.state, move.to_host) for move in moves} == {("DONE", "compute2")}
    instances = journal.instances(sid)
    assert {record.instance_id for record in instances} == expected
    assert all(record.action_done and record.host == "compute2" for record in instances)
    kinds = [event["kind"] for event in journal.events(sid)]
    assert kinds.count("test.write") == kinds.count("instance.move_started") == kinds.count(
        "instance.action_done") == THREADS * ROUNDS
    reopened = Journal(location)  # committed, not only visible on the shared connection
    assert len(reopened.moves(sid)) == THREADS * ROUNDS


def test_a_rollback_takes_no_other_threads_write_with_it(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"]).session_id
    inside, other_started = threading.Event(), threading.Event()

    def failing_transaction():
        try:
            with journal.transaction():
                journal.record_event(sid, "test.rolled_back")
                inside.set()
                other_started.wait(5)
                threading.Event().wait(0.2)  # give the other thread time to write, were it not held back
                raise RuntimeError("abandon")
        except RuntimeError:
            pass

    def other_write():
        inside.wait(5)
        other_started.set()
        journal.record_event(sid, "test.kept")

    threads = [threading.Thread(target=failing_transaction), threading.Thread(target=other_write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    kinds = [event["kind"] for event in Journal(location).events(sid)]
    assert "test.kept" in kinds and "test.rolled_back" not in kinds
