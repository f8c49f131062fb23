# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""A module's side of waiting for the projects' answers: its options, the waiter's settings, the reminders,
the outcome as a result, and what fails the module.

project_reply_wait waits on its own; project_notify waits once it has asked (``wait_for_replies``), so that a
rolling maintenance asks and waits in one module run. The options are documented in the doc fragment
``fenix.maintenance.reply_wait``.
"""

from __future__ import annotations

from typing import Callable, List, Tuple

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ProjectRecord
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import (
    Notifier,
    undelivered,
    undelivered_warning,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.replies import (
    FAIL,
    SILENT_POLICIES,
    ReplyWaiter,
    WaitOutcome,
    WaitSettings,
    project_view,
    silent_failure_message,
)


def reply_wait_argument_spec() -> dict:
    return dict(
        poll_interval=dict(type="float", default=2),
        renotify=dict(type="int", default=0),
        silent_policy=dict(default=FAIL, choices=list(SILENT_POLICIES)),
        fail_on_nack=dict(type="bool", default=True),
    )


class AwaitsReplies:
    """Mixed into an OpenStackModule whose options hold the notify options and reply_wait_argument_spec()."""

    def await_replies(self, session, state: str) -> Tuple[WaitOutcome, dict]:
        """Wait for the answers to ``state`` (in check mode, read them once), and the outcome as a result."""
        waiter = ReplyWaiter(self.journal, session.session_id, state, self.wait_settings(session),
                             remind=self.reminder(session))
        if self.check_mode:
            outcome = waiter.look()
        else:
            outcome = waiter.explain(waiter.apply_policy(waiter.wait()))
        return outcome, dict(
            changed=outcome.changed() or (self.check_mode and bool(outcome.silent) and self.would_act()),
            projects=[project_view(p, outcome.decided_by.get(p.project_id), outcome.unreachable.get(p.project_id))
                      for p in outcome.projects],
            silent=outcome.silent, nacked=outcome.nacked, answered_by_policy=outcome.answered_by_policy,
            decided_at_once=outcome.decided_at_once,
            unreachable_projects=[{"project_id": project_id, "why": why}
                                  for project_id, why in sorted(outcome.unreachable.items())],
            reminders=outcome.reminded, waited=outcome.waited,
        )

    def wait_settings(self, session) -> WaitSettings:
        params = self.params
        if params["renotify"] < 0 or params["timeout"] < 0 or params["poll_interval"] <= 0:
            raise ValueError("renotify, timeout: give numbers >= 0, and poll_interval > 0")
        if params["renotify"] and not (params["bus"] or params["webhook"]):
            raise ValueError("renotify: reminders need a transport; give bus or webhook (as for project_notify)")
        return WaitSettings(timeout=params["timeout"], poll_interval=params["poll_interval"],
                            renotify=params["renotify"], silent_policy=params["silent_policy"],
                            fail_on_nack=params["fail_on_nack"], silent_projects=session.silent_projects)

    def reminder(self, session) -> Callable[[List[ProjectRecord]], None]:
        """Sends reminders with project_notify's code and options; a failed delivery only warns, once a round."""
        if not (self.params["bus"] or self.params["webhook"]):
            return lambda projects: None
        notifier = Notifier(self.journal, self.params, lambda: self.conn)

        def remind(projects):
            failed = undelivered(notifier.remind(session, projects))
            if failed:
                self.warn("reminder: %s" % undelivered_warning(failed))
        return remind

    def would_act(self) -> bool:
        return self.params["renotify"] > 0 or self.params["silent_policy"] != FAIL

    def fail_on_answers(self, outcome: WaitOutcome) -> None:
        if outcome.nacked and self.params["fail_on_nack"]:
            nacks = ["%s answered %s" % (p.project_id, p.reply) for p in outcome.projects
                     if p.project_id in outcome.nacked]
            self.fail("state %s refused: %s; set fail_on_nack=false to let the play decide"
                      % (outcome.state, ", ".join(nacks)))
        if outcome.silent:
            self.fail(silent_failure_message(outcome, self.params["timeout"]))
