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
  - A project that no transport reached (M(fenix.maintenance.project_notify) lists it as
    unreachable - no VNFM, or a webhook that failed after its retries) is waited for as a silent
    one, and each reminder tries to reach it again; RV(unreachable_projects) names it and why.
  - When the session's C(silent_projects) setting is C(decide_at_once) (see
    M(fenix.maintenance.maintenance_session)), a project for which the silent policy decided at its
    previous ask, and which has not answered since, is answered for by O(silent_policy) at once,
    without waiting; once it answers again it is waited for again. With C(ask_again) (the default)
    every ask waits for every project.
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
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.notify
  - fenix.maintenance.reply_wait
  - fenix.maintenance.openstack
  - fenix.maintenance.journal
  - fenix.maintenance.openstack.SESSION_ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: all
  check_mode:
    support: full
    details: Reads the answers once, without waiting, reminding or answering for anyone;
      RV(decided_at_once) names the projects the policy would answer for at once.
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
    unreachable:
      description: Why no transport reached the project at its latest delivery attempt; null when one did.
      type: str
      sample: null
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
  description: Projects this run answered for, by O(silent_policy) (those of RV(decided_at_once) included).
  returned: always
  type: list
  elements: str
decided_at_once:
  description:
    - Projects O(silent_policy) answered for without waiting, because the session's
      C(silent_projects) is C(decide_at_once) and they were silent at their previous ask
      (in check mode, the projects it would answer for).
  returned: always
  type: list
  elements: str
unreachable_projects:
  description:
    - Projects asked about the state that no transport reached, at the ask or at the last reminder,
      with why (no VNFM, or what their webhook answered). They count as silent.
    - Not named C(unreachable), a key by which Ansible would mark the host unreachable.
  returned: always
  type: list
  elements: dict
  contains:
    project_id:
      description: ID of the project.
      type: str
    why:
      description: Why no transport reached it.
      type: str
      sample: "no webhook URL and no bus: a project without a VNFM"
silent_projects:
  description: The session's setting for projects silent before, C(ask_again) or C(decide_at_once).
  returned: always
  type: str
  sample: ask_again
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
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.awaiting import (
    AwaitsReplies,
    reply_wait_argument_spec,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import notify_argument_spec
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import ANSWERABLE_STATES


class ProjectReplyWaitModule(AwaitsReplies, OpenStackModule):
    argument_spec = dict(
        notify_argument_spec(),
        session_id=dict(required=True),
        state=dict(choices=list(ANSWERABLE_STATES)),
        **reply_wait_argument_spec(),
    )
    module_kwargs = dict(supports_check_mode=True)
    uses_journal = True

    def run(self) -> dict:
        params = self.params
        result = self.partial_result = dict(changed=False, state=None, projects=[], silent=[], nacked=[],
                                            answered_by_policy=[], decided_at_once=[], unreachable_projects=[],
                                            silent_projects=None, reminders=[], waited=0.0,
                                            journal=self.journal_shown)
        if not self.journal_exists:
            self.fail("session_id: no journal at %s, so no session %s" % (self.journal_shown, params["session_id"]))
        session = self.session(params["session_id"])
        state = result["state"] = params["state"] or session.state
        result["silent_projects"] = session.silent_projects
        outcome, replies = self.await_replies(session, state)
        result.update(replies)
        if not self.check_mode:
            self.fail_on_answers(outcome)
        return result


def main() -> None:
    module = ProjectReplyWaitModule()
    module()


if __name__ == "__main__":
    main()
