"""A resumed session first lets the migrations its stopped run left in flight end (workflow.session)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.session import (
    MovesStillRunning,
    settle_unfinished_moves,
)


class NovaAfterAKill:
    """Nova as a killed run left it: migrations off compute1 in flight for ``polls`` polls, then landed."""

    def __init__(self, polls: int, landed: dict):
        self.polls, self.landed, self.confirmed, self.reads = polls, landed, [], 0
        self.compute = self

    def migrations(self, source_compute=None):
        self.reads += 1
        if self.reads > self.polls:
            return []
        return [SimpleNamespace(server_id=server_id, status="running") for server_id in self.landed]

    def find_server(self, server_id, ignore_missing=True, all_projects=False):
        host = self.landed.get(server_id)
        return SimpleNamespace(id=server_id, compute_host=host) if host else None


def journal_with_running_moves(tmp_path):
    journal = Journal(str(tmp_path / "j.sqlite"))
    journal.create_session(["compute1"], session_id="s1")
    journal.start_move("s1", "vm-1", "p1", "LIVE_MIGRATE", "compute1", "compute2")
    journal.start_move("s1", "vm-2", "p1", "MIGRATE", "compute1", "compute3")
    done = journal.start_move("s1", "vm-3", "p1", "LIVE_MIGRATE", "compute1", "compute2")
    journal.finish_move(done, True, "compute2")
    journal.start_move("s1", "vm-4", "p2", "OWN_ACTION", "compute1")  # the project's own: not Nova's to finish
    return journal


def test_moves_left_running_are_waited_for_and_recorded_as_they_ended(tmp_path):
    journal = journal_with_running_moves(tmp_path)
    nova = NovaAfterAKill(polls=2, landed={"vm-1": "compute2", "vm-2": "compute1"})
    settled = settle_unfinished_moves(nova, journal, "s1", timeout=60)
    assert nova.reads == 3  # polled until Nova had nothing in flight
    assert settled == [
        {"instance_id": "vm-1", "action": "LIVE_MIGRATE", "from_host": "compute1", "to_host": "compute2", "moved": True},
        {"instance_id": "vm-2", "action": "MIGRATE", "from_host": "compute1", "to_host": "compute1", "moved": False}]
    moves = {move.instance_id: move for move in journal.moves("s1")}
    assert (moves["vm-1"].state, moves["vm-1"].to_host) == ("DONE", "compute2")
    assert moves["vm-2"].state == "FAILED" and "stayed on compute1" in moves["vm-2"].error
    assert moves["vm-4"].state == "RUNNING"
    assert settle_unfinished_moves(nova, journal, "s1", timeout=60) == []  # nothing left: no Nova call at all
    assert nova.reads == 3


def test_migrations_still_running_at_the_timeout_stop_the_resume_naming_them(tmp_path):
    journal = journal_with_running_moves(tmp_path)
    nova = NovaAfterAKill(polls=10 ** 6, landed={"vm-1": "compute2", "vm-2": "compute1"})
    with pytest.raises(MovesStillRunning, match="servers vm-1, vm-2 still migrating off compute1 after 0s"):
        settle_unfinished_moves(nova, journal, "s1", timeout=0)
    assert [move.state for move in journal.moves("s1")] == ["RUNNING", "RUNNING", "DONE", "RUNNING"]


def test_check_mode_reports_without_waiting_or_writing(tmp_path):
    journal = journal_with_running_moves(tmp_path)
    nova = NovaAfterAKill(polls=10 ** 6, landed={"vm-1": "compute2", "vm-2": "compute1"})
    assert [item["moved"] for item in settle_unfinished_moves(nova, journal, "s1", 60, check_mode=True)] == [True, False]
    assert nova.reads == 0 and [move.state for move in journal.moves("s1")] == ["RUNNING", "RUNNING", "DONE", "RUNNING"]
