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
from typing import Callable, Dict, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import seconds_between
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ProjectRecord
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.reply_rules import is_nack_reply
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import (
    ASK_AGAIN,
    DECIDE_AT_ONCE,
    INSTANCE_ACTION_DONE,
    LIVE_MIGRATE,
    MIGRATE,
    VNF_WORKFLOW,
)

FAIL = "fail"
SILENT_POLICIES = (FAIL, LIVE_MIGRATE, MIGRATE)

REPLIED = "replied"
POLICY = "policy"
PROJECT = "project"  # the event log's word for an answer the project gave itself


@dataclass
class WaitSettings:
    timeout: float
    poll_interval: float = 2.0
    renotify: int = 0
    silent_policy: str = FAIL
    fail_on_nack: bool = True
    silent_projects: str = ASK_AGAIN  # the session's setting (vocabulary.SILENT_PROJECTS)


@dataclass
class WaitOutcome:
    state: str
    projects: List[ProjectRecord] = field(default_factory=list)
    decided_by: dict = field(default_factory=dict)  # project_id -> replied | policy
    reminded: List[List[str]] = field(default_factory=list)  # the projects of each reminder round
    silent: List[str] = field(default_factory=list)  # still without an answer (policy fail, or check mode)
    nacked: List[str] = field(default_factory=list)
    answered_by_policy: List[str] = field(default_factory=list)  # by this run
    decided_at_once: List[str] = field(default_factory=list)  # by the policy without waiting (silent before)
    unreachable: Dict[str, str] = field(default_factory=dict)  # project_id -> why no transport reached it
    # vnf workflow: project_id -> its instances the policy gave an action (an ACK without one, no migration_type)
    policy_actions: Dict[str, List[str]] = field(default_factory=dict)
    waited: float = 0.0

    def changed(self) -> bool:
        return bool(self.reminded or self.answered_by_policy or self.policy_actions)


@dataclass
class Ask:
    """One question to a project, from the event log: whether it reached the project, and who answered it."""

    project_id: str
    state: str
    asked_at: str
    unreachable: Optional[dict] = None  # reason and why, as of the last delivery attempt (ask or reminder)
    decided_by: Optional[str] = None  # project | policy: who gave the last answer to it
    at_once: bool = False  # the policy decided without waiting (silent_projects=decide_at_once)


def ask_history(events: List[dict]) -> Dict[str, List[Ask]]:
    """Every ask of each project in the order made, from the session's events.

    An ask is a ``project.notified`` event that is not a reminder; delivery
    events and replies after it belong to it (a reply always answers the
    project's latest ask, the journal refuses any other). A delivery that
    reaches the project, a reminder's included, makes it reachable again.
    """
    history: Dict[str, List[Ask]] = {}
    for event in events:
        project_id, details, kind = event["project_id"], event["details"], event["kind"]
        if not project_id:
            continue
        if kind == "project.notified" and not details.get("reminder") and details.get("state") != INSTANCE_ACTION_DONE:
            history.setdefault(project_id, []).append(Ask(project_id, details.get("state"), event["at"]))
            continue
        current = history.get(project_id, [None])[-1]
        if current is None or details.get("state", current.state) != current.state:
            continue  # INSTANCE_ACTION_DONE, or an event of no ask
        if kind == "notification.delivered":
            current.unreachable = None
        elif kind == "project.unreachable":
            current.unreachable = {"reason": details.get("reason"), "why": details.get("why")}
        elif kind == "project.reply":
            current.decided_by = POLICY if details.get("decided_by") == POLICY else PROJECT
            current.at_once = bool(details.get("at_once"))
    return history


def silent_before(asks: List[Ask]) -> Optional[Ask]:
    """The ask before the latest at which the silent policy decided for the project, or None.

    The policy's answer means the project was silent (or unreachable) until
    that ask's deadline; an answer of its own since, even a late one to that
    same ask, replaces the policy's and makes it a project that answers.
    """
    if len(asks) < 2:
        return None
    previous = asks[-2]
    return previous if previous.decided_by == POLICY else None


def is_nack(project: ProjectRecord) -> bool:
    return is_nack_reply(project.reply)


def latency(project: ProjectRecord) -> Optional[float]:
    """Seconds from the (first, when reminded) notification to the answer."""
    return seconds_between(project.notified_at, project.replied_at)


def project_view(project: ProjectRecord, decided_by: Optional[str], unreachable: Optional[str] = None) -> dict:
    return {
        "project_id": project.project_id,
        "state": project.state,
        "reply": project.reply,
        "instance_actions": project.instance_actions,
        "latency": latency(project),
        "notify_count": project.notify_count,
        "decided_by": decided_by,
        "unreachable": unreachable,
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
        """The answers as they are now (check mode): nothing waited for, reminded or decided.

        ``decided_at_once`` names the projects the policy would decide for at once.
        """
        outcome = WaitOutcome(self.state, self.asked())
        self._classify(outcome)
        outcome.decided_at_once = sorted(self.silent_before(outcome))
        return self.explain(outcome)

    def silent_before(self, outcome: WaitOutcome) -> Dict[str, Ask]:
        """Silent projects the policy decides for at once: silent at their previous ask, and the session says so.

        Never with the fail policy: there is no answer to give, only the wait.
        """
        if self.settings.silent_projects != DECIDE_AT_ONCE or self.settings.silent_policy == FAIL:
            return {}
        history = ask_history(self.journal.events(self.session_id))
        found = {}
        for project_id in outcome.silent:
            before = silent_before(history.get(project_id, []))
            if before is not None:
                found[project_id] = before
        return found

    def decide_at_once(self, outcome: WaitOutcome) -> None:
        """Answer by policy, without waiting, for the projects silent at their previous ask."""
        for project_id, before in sorted(self.silent_before(outcome).items()):
            decided = self.journal.record_policy_reply(
                self.session_id, project_id, self.settings.silent_policy,
                policy="silent_policy=%s; silent_projects=%s (silent at %s)"
                       % (self.settings.silent_policy, DECIDE_AT_ONCE, before.state),
                at_once=True)
            if decided is not None:  # None: it has just answered, and its answer stands
                outcome.answered_by_policy.append(project_id)
                outcome.decided_at_once.append(project_id)

    def wait(self) -> WaitOutcome:
        started = self.clock()
        deadline = started + self.settings.timeout
        round_length = self.settings.timeout / (self.settings.renotify + 1)
        next_reminder = started + round_length
        outcome = WaitOutcome(self.state, self.asked())
        self._classify(outcome)
        self.decide_at_once(outcome)
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
        self.decide_unconstrained(outcome)
        outcome.projects = self.asked()
        self._classify(outcome)
        return outcome

    def decide_unconstrained(self, outcome: WaitOutcome) -> None:
        """vnf workflow: an ACKed instance with no action and no migration_type constraint gets the policy's action.

        Such an instance has no constraint for its answer to take (Fenix's VNF
        workflow expects one for every instance), so the operator's silent
        policy decides how it moves, as for an instance that did not answer.
        """
        if self.journal.session(self.session_id).workflow != VNF_WORKFLOW:
            return
        for project in self.asked():
            if not project.answered or is_nack(project) or not project.allowed_actions:
                continue
            typed = {body["instance_id"] for body in self.journal.constraints("instance", project.project_id)
                     if body.get("migration_type")}
            asked = project.instance_ids or [record.instance_id for record in
                                             self.journal.instances(self.session_id, project.project_id)]
            missing = [iid for iid in asked if iid not in project.instance_actions and iid not in typed]
            if missing and self.journal.record_policy_actions(
                    self.session_id, project.project_id, self.settings.silent_policy, missing,
                    policy="silent_policy=%s (no action and no migration_type)" % self.settings.silent_policy):
                outcome.policy_actions[project.project_id] = sorted(missing)

    def explain(self, outcome: WaitOutcome) -> WaitOutcome:
        """Who decided each answer, and who was not reached, from the event log (either may be an earlier run's)."""
        history = ask_history(self.journal.events(self.session_id))
        latest = {project_id: asks[-1] for project_id, asks in history.items()}
        outcome.decided_by = {
            p.project_id: POLICY if p.project_id in latest and latest[p.project_id].decided_by == POLICY else REPLIED
            for p in outcome.projects if p.answered
        }
        outcome.unreachable = {p.project_id: latest[p.project_id].unreachable["why"] for p in outcome.projects
                               if p.project_id in latest and latest[p.project_id].unreachable}
        return outcome

    @staticmethod
    def _classify(outcome: WaitOutcome) -> None:
        outcome.silent = [p.project_id for p in outcome.projects if not p.answered]
        outcome.nacked = [p.project_id for p in outcome.projects if is_nack(p)]


def silent_failure_message(outcome: WaitOutcome, timeout: float) -> str:
    """The fail policy's message: the unreachable projects with why, apart from the merely silent ones."""
    unreachable = [project_id for project_id in outcome.silent if project_id in outcome.unreachable]
    silent = [project_id for project_id in outcome.silent if project_id not in outcome.unreachable]
    problems, fixes = [], []
    if unreachable:
        problems.append("projects %s could not be reached (%s)" % (", ".join(unreachable), "; ".join(
            "%s: %s" % (project_id, outcome.unreachable[project_id]) for project_id in unreachable)))
        fixes.append("make them reachable (a working webhook URL, their AODH alarm, or the bus)")
    if silent:
        problems.append("no answer after %ss from projects %s" % (timeout, ", ".join(silent)))
        fixes.append("raise timeout, add renotify")
    return "state %s: %s; %s, or set silent_policy to LIVE_MIGRATE or MIGRATE" % (
        outcome.state, " and ".join(problems), ", ".join(fixes))
