# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Waiting for the projects' answers to a state, reminding the silent ones, then deciding for them.

Replies reach the journal through the API service (or anything else that
writes it); this side only reads the journal, so the API and a playbook run
need no other channel between them. Whether a reply fits the ask is decided
by reply_rules.py, which the journal applies as it stores each reply.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import seconds_between
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ProjectRecord
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.reply_rules import is_nack_reply
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import LIVE_MIGRATE, MIGRATE

FAIL = "fail"
SILENT_POLICIES = (FAIL, LIVE_MIGRATE, MIGRATE)

REPLIED = "replied"
POLICY = "policy"


@dataclass
class WaitSettings:
    timeout: float
    poll_interval: float = 2.0
    renotify: int = 0
    silent_policy: str = FAIL
    fail_on_nack: bool = True


@dataclass
class WaitOutcome:
    state: str
    projects: List[ProjectRecord] = field(default_factory=list)
    decided_by: dict = field(default_factory=dict)  # project_id -> replied | policy
    reminded: List[List[str]] = field(default_factory=list)  # the projects of each reminder round
    silent: List[str] = field(default_factory=list)  # still without an answer (policy fail, or check mode)
    nacked: List[str] = field(default_factory=list)
    answered_by_policy: List[str] = field(default_factory=list)  # by this run
    waited: float = 0.0

    def changed(self) -> bool:
        return bool(self.reminded or self.answered_by_policy)


def is_nack(project: ProjectRecord) -> bool:
    return is_nack_reply(project.reply)


def latency(project: ProjectRecord) -> Optional[float]:
    """Seconds from the (first, when reminded) notification to the answer."""
    return seconds_between(project.notified_at, project.replied_at)


def project_view(project: ProjectRecord, decided_by: Optional[str]) -> dict:
    return {
        "project_id": project.project_id,
        "state": project.state,
        "reply": project.reply,
        "instance_actions": project.instance_actions,
        "latency": latency(project),
        "notify_count": project.notify_count,
        "decided_by": decided_by,
    }


class ReplyWaiter:
    """Polls the journal until every project asked about ``state`` has answered or time is up.

    ``remind(projects)`` re-sends the ask to silent projects; reminders are
    spread evenly over the timeout (``renotify`` of them, so ``renotify + 1``
    equal rounds).
    """

    def __init__(self, journal: Journal, session_id: str, state: str, settings: WaitSettings,
                 remind: Callable[[List[ProjectRecord]], None],
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.journal = journal
        self.session_id = session_id
        self.state = state
        self.settings = settings
        self.remind = remind
        self.clock = clock
        self.sleep = sleep

    def asked(self) -> List[ProjectRecord]:
        return [project for project in self.journal.projects(self.session_id) if project.state == self.state]

    def look(self) -> WaitOutcome:
        """The answers as they are now (check mode): nothing waited for, reminded or decided."""
        outcome = WaitOutcome(self.state, self.asked())
        self._classify(outcome)
        return self.explain(outcome)

    def wait(self) -> WaitOutcome:
        started = self.clock()
        deadline = started + self.settings.timeout
        round_length = self.settings.timeout / (self.settings.renotify + 1)
        next_reminder = started + round_length
        outcome = WaitOutcome(self.state)
        while True:
            outcome.projects = self.asked()
            self._classify(outcome)
            if not outcome.silent or (outcome.nacked and self.settings.fail_on_nack):
                break
            now = self.clock()
            if now >= deadline:
                break
            if len(outcome.reminded) < self.settings.renotify and now >= next_reminder:
                silent = [p for p in outcome.projects if not p.answered]
                self.remind(silent)
                outcome.reminded.append([p.project_id for p in silent])
                next_reminder += round_length
                continue
            wake = min(deadline, next_reminder) if len(outcome.reminded) < self.settings.renotify else deadline
            self.sleep(max(0.0, min(self.settings.poll_interval, wake - now)))
        outcome.waited = round(self.clock() - started, 3)
        return outcome

    def apply_policy(self, outcome: WaitOutcome) -> WaitOutcome:
        """Answer for the silent projects as ``silent_policy`` says (not for ``fail``)."""
        if self.settings.silent_policy == FAIL or (outcome.nacked and self.settings.fail_on_nack):
            return outcome
        for project_id in outcome.silent:
            decided = self.journal.record_policy_reply(self.session_id, project_id, self.settings.silent_policy,
                                                       policy="silent_policy=%s" % self.settings.silent_policy)
            if decided is not None:  # None: it answered since the last poll, and its answer stands
                outcome.answered_by_policy.append(project_id)
        outcome.projects = self.asked()
        self._classify(outcome)
        return outcome

    def explain(self, outcome: WaitOutcome) -> WaitOutcome:
        """Who decided each answer, from the event log (a policy answer may come from an earlier run)."""
        last_reply = {}
        for event in self.journal.events(self.session_id):
            if event["kind"] == "project.reply":
                last_reply[event["project_id"]] = event["details"]
        outcome.decided_by = {
            p.project_id: POLICY if last_reply.get(p.project_id, {}).get("decided_by") == POLICY else REPLIED
            for p in outcome.projects if p.answered
        }
        return outcome

    @staticmethod
    def _classify(outcome: WaitOutcome) -> None:
        outcome.silent = [p.project_id for p in outcome.projects if not p.answered]
        outcome.nacked = [p.project_id for p in outcome.projects if is_nack(p)]
