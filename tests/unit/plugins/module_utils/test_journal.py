import sqlite3

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    JournalError,
    SessionNotFound,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.schema import SCHEMA_VERSION
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.clock import utc_now


class Ticks:
    """A clock that moves one second per reading."""

    def __init__(self):
        self.second = 0

    def __call__(self):
        self.second += 1
        return "2026-11-22T12:00:%02d.000000Z" % self.second


@pytest.fixture
def path(tmp_path):
    """A SQLite journal file (for tests that look inside the file)."""
    return str(tmp_path / "journal.sqlite")


def test_session_survives_reopening(location):
    journal = Journal(location)
    created = journal.create_session(["compute1", "compute2"], metadata={"release": "2026.2"},
                                     request={"hosts": ["compute1", "compute2"]})
    journal.set_host(created.session_id, "compute1", state="DISABLED", disabled_by_session=True)
    journal.close()

    reopened = Journal(location)
    session = reopened.session(created.session_id)
    assert session.state == "MAINTENANCE" and session.metadata == {"release": "2026.2"}
    assert [(h.host, h.state, h.disabled_by_session) for h in reopened.hosts(session.session_id)] == [
        ("compute1", "DISABLED", True), ("compute2", "PENDING", False)]
    assert reopened.hosts_disabled_by_session(session.session_id) == ["compute1"]


def test_write_is_visible_to_another_connection_at_once(location):
    writer, reader = Journal(location), Journal(location)
    session = writer.create_session(["compute1"])
    writer.set_session_state(session.session_id, "PLANNED_MAINTENANCE")
    assert reader.session(session.session_id).state == "PLANNED_MAINTENANCE"


def test_state_changes_are_logged_in_order(location):
    journal = Journal(location, clock=Ticks())
    sid = journal.create_session(["compute1"]).session_id
    journal.set_session_state(sid, "PLANNED_MAINTENANCE")
    journal.set_host(sid, "compute1", state="IN_MAINTENANCE")
    journal.set_session_state(sid, "MAINTENANCE_FAILED", reason="plugin os_upgrade failed on compute1")
    events = journal.events(sid)
    assert [e["kind"] for e in events] == ["session.created", "session.state", "host.state", "session.state"]
    assert events[-1]["details"] == {"from": "PLANNED_MAINTENANCE", "to": "MAINTENANCE_FAILED",
                                     "reason": "plugin os_upgrade failed on compute1"}
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert journal.events(sid, after=events[1]["event_id"]) == events[2:]
    assert journal.session(sid).reason == "plugin os_upgrade failed on compute1"


def test_set_host_keeps_fields_not_given(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"]).session_id
    journal.set_host(sid, "compute1", disabled_by_session=True, details={"service_id": "s1"})
    record = journal.set_host(sid, "compute1", state="MAINTAINED", maintained=True, details={"plugins": 2})
    assert (record.state, record.disabled_by_session, record.maintained) == ("MAINTAINED", True, True)
    assert record.details == {"service_id": "s1", "plugins": 2}
    unchanged_events = len(journal.events(sid))
    journal.set_host(sid, "compute1", state="MAINTAINED")
    assert len(journal.events(sid)) == unchanged_events, "no event for a write that changes nothing"


def test_bad_input_names_the_field(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"], session_id="s-1").session_id
    with pytest.raises(JournalError, match="state: 'DONE' is not a session state"):
        journal.set_session_state(sid, "DONE")
    with pytest.raises(JournalError, match="session_id: s-1 exists already"):
        journal.create_session(["compute2"], session_id="s-1")
    with pytest.raises(SessionNotFound, match="nope"):
        journal.set_host("nope", "compute1", state="X")
    assert journal.session(sid).state == "MAINTENANCE"


def test_failed_transaction_leaves_nothing(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"]).session_id
    with pytest.raises(RuntimeError):
        with journal.transaction():
            journal.set_host(sid, "compute1", state="DISABLED", disabled_by_session=True)
            raise RuntimeError("killed between the write and the commit")
    assert journal.hosts(sid)[0].state == "PENDING"
    assert journal.hosts_disabled_by_session(sid) == []


def test_delete_removes_everything_of_the_session(path):
    journal = Journal(path)
    keep = journal.create_session(["compute1"]).session_id
    gone = journal.create_session(["compute2"]).session_id
    journal.delete_session(gone)
    assert [s.session_id for s in journal.sessions()] == [keep]
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM hosts WHERE session_id = ?", (gone,)).fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM events WHERE session_id = ?", (gone,)).fetchone()[0] == 0
    with pytest.raises(SessionNotFound):
        journal.delete_session(gone)


def test_newer_schema_is_refused(path):
    Journal(path).close()
    assert Journal(path).schema_version == SCHEMA_VERSION
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    db.commit()
    with pytest.raises(JournalError, match="upgrade fenix.maintenance"):
        Journal(path)


def test_version_1_journal_is_migrated_with_its_data(path):
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal.backends import SQLiteBackend
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal.schema import MIGRATIONS

    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for statement in MIGRATIONS[1]:
        db.execute(statement.replace("{serial}", SQLiteBackend.serial))
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("INSERT INTO sessions VALUES ('old', 'PLANNED_MAINTENANCE', 'default', NULL, '{}', '{}', NULL, 't', 't')")
    db.commit()
    journal = Journal(path)
    assert journal.schema_version == SCHEMA_VERSION == 6
    assert journal.session("old").state == "PLANNED_MAINTENANCE"
    assert journal.session("old").silent_projects == "ask_again"  # what every earlier session did
    assert journal.projects("old") == []


def test_project_reply_must_answer_the_state_asked(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"]).session_id
    journal.set_instance(sid, "vm-1", "p1", host="compute1", state="ACTIVE")
    journal.set_instance(sid, "vm-2", "p2", host="compute1", state="ACTIVE")
    asked = journal.notify_project(sid, "p1", "PLANNED_MAINTENANCE", allowed_actions=["MIGRATE", "LIVE_MIGRATE"])
    assert (asked.state, asked.reply, asked.notify_count, asked.answered) == ("PLANNED_MAINTENANCE", None, 1, False)
    with pytest.raises(JournalError, match="send ACK_PLANNED_MAINTENANCE or NACK_PLANNED_MAINTENANCE"):
        journal.record_reply(sid, "p1", "ACK_MAINTENANCE")
    with pytest.raises(JournalError, match="instance_actions: vm-2 not instances of project p1"):
        journal.record_reply(sid, "p1", "ACK_PLANNED_MAINTENANCE", {"vm-2": "MIGRATE"})
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ProjectNotFound
    with pytest.raises(ProjectNotFound, match="p2 is not part of session"):
        journal.record_reply(sid, "p2", "ACK_PLANNED_MAINTENANCE")
    with pytest.raises(JournalError, match="'OWN_ACTION' is not allowed in state PLANNED_MAINTENANCE;"
                       " allowed: MIGRATE, LIVE_MIGRATE"):
        journal.record_reply(sid, "p1", "ACK_PLANNED_MAINTENANCE", {"vm-1": "OWN_ACTION"})
    replied = journal.record_reply(sid, "p1", "ACK_PLANNED_MAINTENANCE", {"vm-1": "LIVE_MIGRATE"})
    assert replied.answered and replied.instance_actions == {"vm-1": "LIVE_MIGRATE"}


def test_states_without_actions_refuse_instance_actions(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"]).session_id
    journal.notify_project(sid, "p1", "MAINTENANCE", instance_ids=["vm-1"])
    with pytest.raises(JournalError, match="allowed: none"):
        journal.record_reply(sid, "p1", "ACK_MAINTENANCE", {"vm-1": "MIGRATE"})
    with pytest.raises(JournalError, match="allowed_actions: REBOOT unknown"):
        journal.notify_project(sid, "p1", "PLANNED_MAINTENANCE", allowed_actions=["REBOOT"])


def test_notification_remembers_what_was_asked(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"]).session_id
    asked = journal.notify_project(sid, "p1", "PLANNED_MAINTENANCE", instance_ids=["vm-2", "vm-1"],
                                   allowed_actions=["MIGRATE"], actions_at="2026-12-01T02:00:00Z",
                                   reply_at="2026-12-01T01:00:00Z")
    assert asked.instance_ids == ["vm-2", "vm-1"] and asked.allowed_actions == ["MIGRATE"]
    assert (asked.actions_at, asked.reply_at) == ("2026-12-01T02:00:00Z", "2026-12-01T01:00:00Z")
    with pytest.raises(JournalError, match="instance_actions: vm-3 not instances of project p1"):
        journal.record_reply(sid, "p1", "ACK_PLANNED_MAINTENANCE", {"vm-3": "MIGRATE"})


def test_instance_replies_make_the_project_reply(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"]).session_id
    journal.notify_project(sid, "p1", "PLANNED_MAINTENANCE", instance_ids=["vm-1", "vm-2"],
                           allowed_actions=["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"])
    with pytest.raises(JournalError, match="instance vm-9 is not an instance of project p1"):
        journal.record_instance_reply(sid, "p1", "vm-9", "ACK_PLANNED_MAINTENANCE", "MIGRATE")
    half = journal.record_instance_reply(sid, "p1", "vm-1", "ACK_PLANNED_MAINTENANCE", "MIGRATE")
    assert not half.answered
    whole = journal.record_instance_reply(sid, "p1", "vm-2", "ACK_PLANNED_MAINTENANCE", "OWN_ACTION")
    assert whole.reply == "ACK_PLANNED_MAINTENANCE"
    assert whole.instance_actions == {"vm-1": "MIGRATE", "vm-2": "OWN_ACTION"}
    # Asked again: the instance answers of the last round no longer count.
    journal.notify_project(sid, "p1", "PLANNED_MAINTENANCE", instance_ids=["vm-1", "vm-2"],
                           allowed_actions=["MIGRATE"])
    assert not journal.record_instance_reply(sid, "p1", "vm-1", "ACK_PLANNED_MAINTENANCE", "MIGRATE").answered
    nack = journal.record_instance_reply(sid, "p1", "vm-2", "NACK_PLANNED_MAINTENANCE")
    assert nack.reply == "NACK_PLANNED_MAINTENANCE"


def test_constraints_are_stored_replaced_and_deleted(location):
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ConstraintNotFound
    journal = Journal(location)
    group = {"group_id": "g1", "project_id": "p1", "max_impacted_members": 1}
    assert journal.set_constraint("instance_group", "g1", "p1", group) == group
    journal.set_constraint("instance_group", "g1", "p1", dict(group, max_impacted_members=2))
    journal.set_constraint("instance", "vm-1", "p1", {"instance_id": "vm-1", "group_id": "g1"})
    journal.set_constraint("instance", "vm-2", "p2", {"instance_id": "vm-2"})
    assert journal.constraint("instance_group", "g1")["max_impacted_members"] == 2
    assert [c["instance_id"] for c in journal.constraints("instance", project_id="p1")] == ["vm-1"]
    assert len(journal.constraints("instance")) == 2
    journal.delete_constraint("instance", "vm-1")
    with pytest.raises(ConstraintNotFound, match="instance vm-1 has no constraints"):
        journal.constraint("instance", "vm-1")
    with pytest.raises(ConstraintNotFound, match="instance group g2 has no constraints"):
        journal.delete_constraint("instance_group", "g2")


def test_accepted_reply_survives_a_killed_process(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"]).session_id
    journal.set_instance(sid, "vm-1", "p1")
    journal.notify_project(sid, "p1", "PREPARE_MAINTENANCE", allowed_actions=["MIGRATE"])
    journal.record_reply(sid, "p1", "ACK_PREPARE_MAINTENANCE", {"vm-1": "MIGRATE"})
    # No close(): the writer is gone as if killed; a new process reads the file.
    other = Journal(location)
    assert other.project(sid, "p1").reply == "ACK_PREPARE_MAINTENANCE"
    assert other.project(sid, "p1").instance_actions == {"vm-1": "MIGRATE"}


def test_renotify_counts_and_clears_an_old_reply(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"]).session_id
    journal.notify_project(sid, "p1", "MAINTENANCE")
    journal.record_reply(sid, "p1", "ACK_MAINTENANCE")
    assert journal.notify_project(sid, "p1", "MAINTENANCE").notify_count == 2
    moved_on = journal.notify_project(sid, "p1", "PLANNED_MAINTENANCE")
    assert (moved_on.notify_count, moved_on.reply) == (1, None)
    assert [p.project_id for p in journal.projects(sid)] == ["p1"]


def test_instances_and_action_done_event(location):
    journal = Journal(location)
    sid = journal.create_session(["compute1"]).session_id
    journal.set_instance(sid, "vm-1", "p1", host="compute1", state="ACTIVE", action="LIVE_MIGRATE")
    done = journal.set_instance(sid, "vm-1", "p1", host="compute2", action_done=True)
    assert (done.host, done.state, done.action, done.action_done) == ("compute2", "ACTIVE", "LIVE_MIGRATE", True)
    journal.set_instance(sid, "vm-1", "p1", action_done=True)
    kinds = [e["kind"] for e in journal.events(sid)]
    assert kinds.count("instance.action_done") == 1
    assert [i.instance_id for i in journal.instances(sid, "p1")] == ["vm-1"]
    assert journal.instances(sid, "p2") == []


def test_upgrade_plugin_runs_are_recorded(location):
    journal = Journal(location, clock=Ticks())
    sid = journal.create_session(["compute1"]).session_id
    run = journal.start_action(sid, "os_upgrade", "host", host="compute1")
    assert journal.action_runs(sid)[0].state == "RUNNING"
    finished = journal.finish_action(run, ok=False, result={"msg": "dpkg lock"})
    assert (finished.state, finished.result) == ("FAILED", {"msg": "dpkg lock"})
    assert finished.started_at < finished.ended_at
    assert [e["kind"] for e in journal.events(sid)][-2:] == ["action.started", "action.failed"]
    with pytest.raises(JournalError, match="run_id: no upgrade plugin run 99"):
        journal.finish_action(99, ok=True)


def test_moves_are_recorded_with_start_and_end(location):
    journal = Journal(location, clock=Ticks())
    sid = journal.create_session(["compute1"]).session_id
    move = journal.start_move(sid, "vm1", "pa", "LIVE_MIGRATE", "compute1", "compute2")
    assert journal.move(move).state == "RUNNING" and journal.move(move).ended_at is None
    done = journal.finish_move(move, True, "compute2")
    failed = journal.finish_move(journal.start_move(sid, "vm2", "pa", "MIGRATE", "compute1"), False, None, "refused")
    assert (done.state, done.to_host, done.started_at < done.ended_at) == ("DONE", "compute2", True)
    assert (failed.state, failed.error, failed.target_host) == ("FAILED", "refused", None)
    assert [m.instance_id for m in journal.moves(sid)] == ["vm1", "vm2"]
    started = [e for e in journal.events(sid) if e["kind"] == "instance.move_started"]
    assert [(e["host"], e["instance_id"], e["details"]["action"]) for e in started] == [
        ("compute1", "vm1", "LIVE_MIGRATE"), ("compute1", "vm2", "MIGRATE")]
    with pytest.raises(JournalError, match="move_id: no move 999"):
        journal.finish_move(999, True)


def test_version_3_journal_gains_the_moves_table(path):
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal.backends import SQLiteBackend
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal.schema import MIGRATIONS

    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version in (1, 2, 3):
        for statement in MIGRATIONS[version]:
            db.execute(statement.replace("{serial}", SQLiteBackend.serial))
        db.execute("INSERT INTO schema_version VALUES (?)", (version,))
    db.execute("INSERT INTO sessions VALUES ('old', 'MAINTENANCE_DONE', 'default', NULL, '{}', '{}', NULL, 't', 't')")
    db.commit()
    journal = Journal(path)
    assert journal.schema_version == 6
    assert journal.moves("old") == []
    journal.start_move("old", "vm1", "pa", "MIGRATE", "compute1")
    assert len(journal.moves("old")) == 1


def test_processes_opening_a_new_journal_together_create_it_once(location):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        journals = list(pool.map(lambda _index: Journal(location), range(4)))
    assert all(journal.schema_version == SCHEMA_VERSION for journal in journals)
    versions = journals[0]._run("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [row["version"] for row in versions] == list(range(1, SCHEMA_VERSION + 1))


def test_dsn_password_is_never_shown():
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal.backends import redact_dsn

    assert redact_dsn("postgresql://fenix:s3cret@db.example:5432/journal") == "postgresql://fenix:***@db.example:5432/journal"
    assert redact_dsn("postgresql://fenix@db/journal") == "postgresql://fenix@db/journal"
    with pytest.raises(JournalError) as error:
        Journal("postgresql://fenix:s3cret@127.0.0.1:1/journal")
    assert "s3cret" not in str(error.value) and "cannot connect" in str(error.value)


def test_version_5_journal_gains_the_silent_projects_setting_with_its_data(location):
    """Schema 6 on both backends: every session a release before it made keeps today's behaviour (ask_again)."""
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal.backends import (
        PostgreSQLBackend,
        SQLiteBackend,
        is_dsn,
    )
    from ansible_collections.fenix.maintenance.plugins.module_utils.journal.schema import MIGRATIONS

    backend = PostgreSQLBackend(location) if is_dsn(location) else SQLiteBackend(location)

    def run(sql, args=()):
        backend.db.execute(sql.replace("?", backend.placeholder), args)

    run("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version in range(1, 6):
        for statement in MIGRATIONS[version]:
            run(statement.replace("{serial}", backend.serial))
        run("INSERT INTO schema_version (version) VALUES (?)", (version,))
    run("INSERT INTO sessions VALUES ('old', 'PLANNED_MAINTENANCE', 'default', NULL, '{\"release\": \"2026.2\"}',"
        " '{}', NULL, 't', 't')")
    backend.db.close()
    journal = Journal(location)
    assert journal.schema_version == SCHEMA_VERSION == 6
    old = journal.session("old")
    assert (old.state, old.metadata, old.silent_projects) == ("PLANNED_MAINTENANCE", {"release": "2026.2"}, "ask_again")
    assert journal.set_silent_projects("old", "decide_at_once").silent_projects == "decide_at_once"
    new = journal.create_session(["compute1"], session_id="new", silent_projects="decide_at_once")
    assert new.silent_projects == "decide_at_once" and new.state == "MAINTENANCE"


def test_recent_move_seconds_are_the_latest_moves_of_a_kind_that_ended_well_in_any_session(location):
    journal = Journal(location)
    for session_id in ("s1", "s2"):
        journal.create_session(["c1"], session_id=session_id)
    moves = [("s1", "LIVE_MIGRATE", True, "10:00:00", "10:00:08.5"),
             ("s2", "LIVE_MIGRATE", False, "10:01:00", "10:01:30"),
             ("s2", "MIGRATE", True, "10:02:00", "10:02:05"),
             ("s2", "LIVE_MIGRATE", True, "10:03:00", "10:03:07.25")]
    for index, (session_id, action, ok, started, ended) in enumerate(moves):
        journal.clock = lambda started=started: "2026-12-01T%sZ" % started
        move_id = journal.start_move(session_id, "vm%d" % index, "p1", action, "c1")
        journal.clock = lambda ended=ended: "2026-12-01T%sZ" % ended
        journal.finish_move(move_id, ok=ok, to_host="c2")
    journal.clock = utc_now
    journal.start_move("s2", "vm9", "p1", "LIVE_MIGRATE", "c1")  # still running
    assert journal.recent_move_seconds("LIVE_MIGRATE", 10) == [7.25, 8.5]  # newest first, the failed one left out
    assert journal.recent_move_seconds("LIVE_MIGRATE", 1) == [7.25]
    assert journal.recent_move_seconds("MIGRATE", 10) == [5.0]
    journal.close()


def test_finished_session_ids_are_the_latest_done_sessions(location):
    journal = Journal(location)
    for index, session_id in enumerate(("old", "failed", "new", "running")):
        journal.clock = lambda index=index: "2026-12-01T10:0%d:00.000000Z" % index
        journal.create_session(["c1"], session_id=session_id)
        if session_id != "running":
            journal.set_session_state(session_id, "MAINTENANCE_FAILED" if session_id == "failed" else "MAINTENANCE_DONE")
    assert journal.finished_session_ids(5) == ["new", "old"]
    assert journal.finished_session_ids(1) == ["new"]
    journal.close()


def test_the_figures_kept_of_a_session_are_the_latest(location):
    journal = Journal(location)
    journal.create_session(["c1"], session_id="s1")
    journal.create_session(["c1"], session_id="s2")
    assert journal.session_figures("s1") is None
    journal.record_session_figures("s1", {"batches": [], "session_updated_at": "a"})
    journal.record_event("s1", "lease.acquired", details={"holder": "x"})
    journal.record_session_figures("s1", {"batches": [{"start": 1.0}], "session_updated_at": "b"})
    journal.record_event("s1", "lease.released", details={"holder": "x"})
    assert journal.session_figures("s1") == {"batches": [{"start": 1.0}], "session_updated_at": "b"}
    assert journal.session_figures("s2") is None
    journal.close()
