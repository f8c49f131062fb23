# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The options of the modules that wait for the projects' answers (plugins/module_utils/notify/awaiting.py):
    # project_reply_wait, and project_notify with wait_for_replies.
    DOCUMENTATION = r"""
options:
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
      - V(fail) fails the module naming them, the unreachable ones apart with why
        (the session's state is left as it is).
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
"""
