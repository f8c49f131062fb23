#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: project_reply_wait
short_description: Wait for the projects' answers to a maintenance session state
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Waits until every project asked about a state of a maintenance session (by
    M(fenix.maintenance.project_notify)) has answered it (C(ACK_<state>) or C(NACK_<state>),
    with instance actions), or until O(timeout) seconds have passed. Answers come into
    the session journal through the API service; the module reads the journal every
    O(poll_interval) seconds.
  - Reminds the projects still silent, up to O(renotify) times, spread evenly over
    O(timeout), with the same notification and a new C(reply_at).
  - Then applies O(silent_policy) to the projects still silent, either failing, or
    answering C(ACK_<state>) on their behalf with the default instance action for each of
    their instances (recorded in the journal as the operator's policy, not the project's answer).
  - A C(NACK_<state>) fails the module unless O(fail_on_nack=false).
options:
  session_id:
    description:
      - The maintenance session.
    type: str
    required: true
  state:
    description:
      - The state whose answers are awaited. Defaults to the session's state.
    type: str
    choices: [MAINTENANCE, SCALE_IN, PREPARE_MAINTENANCE, PLANNED_MAINTENANCE, MAINTENANCE_COMPLETE]
  timeout:
    description:
      - Seconds to wait for every answer, reminders included.
    type: int
    default: 180
  poll_interval:
    description:
      - Seconds between two reads of the journal.
    type: float
    default: 2
  renotify:
    description:
      - How many times to remind the silent projects before O(timeout).
        Needs O(bus) or O(webhook).
    type: int
    default: 0
  silent_policy:
    description:
      - What to do about projects still silent at the deadline.
      - V(fail) fails the module naming them (the session's state is left as it is).
      - V(LIVE_MIGRATE) or V(MIGRATE) answers C(ACK_<state>) for them, with that action for
        each instance they were asked about when the state offers instance actions.
    type: str
    choices: [fail, LIVE_MIGRATE, MIGRATE]
    default: fail
  fail_on_nack:
    description:
      - Fail as soon as a project answers C(NACK_<state>), naming it and its answer.
      - With V(false), a NACK counts as an answer, and the play decides.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.notify
  - fenix.maintenance.openstack
  - fenix.maintenance.journal
  - fenix.maintenance.openstack.SESSION_ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: all
  check_mode:
    support: full
    details: Reads the answers once, without waiting, reminding or answering for anyone.
  diff_mode:
    support: none
notes:
  - The transport options (O(bus), O(webhook), O(api_url), O(reply_timeout), O(metadata)) are
    those of M(fenix.maintenance.project_notify), used for the reminders only.
  - C(changed) is true when a reminder was sent or the policy answered for a project.
  - The O(wait) option has no effect; the module always waits.
"""

EXAMPLES = r"""
- name: Wait up to 10 minutes, remind twice, then live-migrate what nobody answered for
  fenix.maintenance.project_reply_wait:
    session_id: chg-1234
    timeout: 600
    renotify: 2
    silent_policy: LIVE_MIGRATE
    api_url: http://maintenance.example.com:12347/v1
    bus:
      transport_url: "{{ rabbit_transport_url }}"
  register: answers

- name: Every answer must be an ACK within 2 minutes
  fenix.maintenance.project_reply_wait:
    session_id: chg-1234
    state: MAINTENANCE
    timeout: 120
"""

RETURN = r"""
state:
  description: The state whose answers were awaited.
  returned: always
  type: str
  sample: PLANNED_MAINTENANCE
projects:
  description: Every project asked about the state, with its answer.
  returned: always
  type: list
  elements: dict
  contains:
    project_id:
      description: ID of the project.
      type: str
    state:
      description: The state the project was asked about.
      type: str
    reply:
      description: C(ACK_<state>), C(NACK_<state>), or null while silent.
      type: str
      sample: ACK_PLANNED_MAINTENANCE
    instance_actions:
      description: The action chosen for each instance, by instance ID.
      type: dict
      sample: {6a121e48-4490-4ba3-9093-bdbd6ace2cd2: LIVE_MIGRATE}
    latency:
      description: Seconds from the first notification of the state to the answer (null while silent).
      type: float
      sample: 4.2
    notify_count:
      description: How many times the project was notified of the state, reminders included.
      type: int
      sample: 2
    decided_by:
      description: C(replied) when the project answered, C(policy) when O(silent_policy) did, null while silent.
      type: str
      sample: replied
silent:
  description: Projects without an answer at the end (in check mode, at the time of the read).
  returned: always
  type: list
  elements: str
nacked:
  description: Projects that answered C(NACK_<state>).
  returned: always
  type: list
  elements: str
answered_by_policy:
  description: Projects this run answered for, by O(silent_policy).
  returned: always
  type: list
  elements: str
reminders:
  description: The projects reminded, one list per reminder round.
  returned: always
  type: list
  elements: list
waited:
  description: Seconds waited.
  returned: always
  type: float
journal:
  description: The journal, a file path or a PostgreSQL DSN without its password.
  returned: always
  type: str
"""

from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import (
    Notifier,
    notify_argument_spec,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.replies import (
    FAIL,
    SILENT_POLICIES,
    ReplyWaiter,
    WaitSettings,
    project_view,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import (
    INSTANCE_ACTION_DONE,
    PROJECT_STATES,
)

ANSWERABLE_STATES = [state for state in PROJECT_STATES if state != INSTANCE_ACTION_DONE]


class ProjectReplyWaitModule(OpenStackModule):
    argument_spec = dict(
        notify_argument_spec(),
        session_id=dict(required=True),
        state=dict(choices=ANSWERABLE_STATES),
        poll_interval=dict(type="float", default=2),
        renotify=dict(type="int", default=0),
        silent_policy=dict(default=FAIL, choices=list(SILENT_POLICIES)),
        fail_on_nack=dict(type="bool", default=True),
    )
    module_kwargs = dict(supports_check_mode=True)
    uses_journal = True

    def run(self) -> dict:
        params = self.params
        result = self.partial_result = dict(changed=False, state=None, projects=[], silent=[], nacked=[],
                                            answered_by_policy=[], reminders=[], waited=0.0, journal=self.journal_shown)
        if not self.journal_exists:
            self.fail("session_id: no journal at %s, so no session %s" % (self.journal_shown, params["session_id"]))
        session = self.session(params["session_id"])
        state = result["state"] = params["state"] or session.state
        waiter = ReplyWaiter(self.journal, session.session_id, state, self.settings(), remind=self.reminder(session))
        if self.check_mode:
            outcome = waiter.look()
        else:
            outcome = waiter.explain(waiter.apply_policy(waiter.wait()))
        result.update(
            changed=outcome.changed() or (self.check_mode and bool(outcome.silent) and self.would_act()),
            projects=[project_view(p, outcome.decided_by.get(p.project_id)) for p in outcome.projects],
            silent=outcome.silent, nacked=outcome.nacked, answered_by_policy=outcome.answered_by_policy,
            reminders=outcome.reminded, waited=outcome.waited,
        )
        if self.check_mode:
            return result
        self.fail_on_answers(outcome)
        return result

    def settings(self) -> WaitSettings:
        params = self.params
        if params["renotify"] < 0 or params["timeout"] < 0 or params["poll_interval"] <= 0:
            raise ValueError("renotify, timeout: give numbers >= 0, and poll_interval > 0")
        if params["renotify"] and not (params["bus"] or params["webhook"]):
            raise ValueError("renotify: reminders need a transport; give bus or webhook (as for project_notify)")
        return WaitSettings(timeout=params["timeout"], poll_interval=params["poll_interval"],
                            renotify=params["renotify"], silent_policy=params["silent_policy"],
                            fail_on_nack=params["fail_on_nack"])

    def reminder(self, session):
        """Sends reminders with project_notify's code and options; a failed delivery only warns."""
        if not (self.params["bus"] or self.params["webhook"]):
            return lambda projects: None
        notifier = Notifier(self.journal, self.params, lambda: self.conn)

        def remind(projects):
            for item in notifier.remind(session, projects):
                if not item["delivered"]:
                    self.warn("reminder to project %s not delivered: %s" % (item["project_id"], "; ".join(
                        "%s: %s" % (name, outcome["error"]) for name, outcome in item["deliveries"].items())))
        return remind

    def would_act(self) -> bool:
        return self.params["renotify"] > 0 or self.params["silent_policy"] != FAIL

    def fail_on_answers(self, outcome) -> None:
        if outcome.nacked and self.params["fail_on_nack"]:
            nacks = ["%s answered %s" % (p.project_id, p.reply) for p in outcome.projects
                     if p.project_id in outcome.nacked]
            self.fail("state %s refused: %s; set fail_on_nack=false to let the play decide"
                      % (outcome.state, ", ".join(nacks)))
        if outcome.silent:
            self.fail("state %s: no answer after %ss from projects %s; raise timeout, add renotify,"
                      " or set silent_policy to LIVE_MIGRATE or MIGRATE"
                      % (outcome.state, self.params["timeout"], ", ".join(outcome.silent)))


def main() -> None:
    module = ProjectReplyWaitModule()
    module()


if __name__ == "__main__":
    main()
