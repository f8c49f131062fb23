#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: project_notify
short_description: Tell the affected projects (or the admin) about a maintenance session state
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Sends the Fenix C(maintenance.scheduled) notification of a state to every project
    affected by a maintenance session, on the cloud's message bus and/or to webhooks,
    so that application managers (VNFMs) written for Fenix can answer it.
  - Records in the session journal, before sending, what each project is asked (state,
    instances, allowed actions, C(actions_at), C(reply_at)); the projects answer through the
    API service, and M(fenix.maintenance.project_reply_wait) waits for the answers.
    Notifying a project again about the same state counts one more notification
    (C(notify_count)) and drops its earlier answer.
  - In a session of workflow C(vnf) (see M(fenix.maintenance.maintenance_session)),
    V(PREPARE_MAINTENANCE) and V(PLANNED_MAINTENANCE) are sent per instance, as Fenix's VNF
    workflow sends them - one notification per affected instance, whose C(instance_ids) is a
    one-element list and whose C(reply_url) ends in C(/{session_id}/{project_id}/{instance_id}).
    The journal keeps the project's ask (all its instances); the project has answered once every
    instance has. The other states are sent per project in both workflows.
  - With O(state=INSTANCE_ACTION_DONE), tells the project of O(instance_id) that the
    action on that instance is done (nothing is asked).
  - With O(event_type=maintenance.host), sends the admin notification for O(host) instead
    (O(host_state) C(IN_MAINTENANCE) or C(MAINTENANCE_COMPLETE)), so that monitoring can
    silence the host's alarms.
options:
  session_id:
    description:
      - The maintenance session (see M(fenix.maintenance.maintenance_session)).
    type: str
    required: true
  event_type:
    description:
      - V(maintenance.scheduled) notifies projects, V(maintenance.host) the admin.
    type: str
    choices: [maintenance.scheduled, maintenance.host]
    default: maintenance.scheduled
  state:
    description:
      - The state the projects are told about. Defaults to the session's state.
      - V(PREPARE_MAINTENANCE) and V(PLANNED_MAINTENANCE) offer the instance actions
        C(MIGRATE), C(LIVE_MIGRATE) and C(OWN_ACTION); the other states offer none. Answers may
        also say C(EVICTION), which counts as C(OWN_ACTION) (the project removes the instance itself).
    type: str
    choices: [MAINTENANCE, SCALE_IN, PREPARE_MAINTENANCE, PLANNED_MAINTENANCE, MAINTENANCE_COMPLETE,
              INSTANCE_ACTION_DONE]
  move_session:
    description:
      - Move the session to O(state) first, as
        O(fenix.maintenance.maintenance_session#module:session_state) does, and then notify, so that
        a rolling maintenance asks about each state with one task instead of two.
      - Requires O(state), a session state (not V(INSTANCE_ACTION_DONE)).
    type: bool
    default: false
  projects:
    description:
      - The projects to notify, each with the instances it is asked about.
      - When omitted, the projects with servers on O(hosts) (the servers found with
        one list call per host); with O(state=MAINTENANCE_COMPLETE) and no O(hosts),
        every project the session has asked so far.
    type: list
    elements: dict
    suboptions:
      project_id:
        description: ID of the project.
        type: str
        required: true
      instance_ids:
        description: The project's affected instances.
        type: list
        elements: str
        default: []
  hosts:
    description:
      - The hosts whose servers' projects are notified when O(projects) is omitted.
        Defaults to the session's hosts.
    type: list
    elements: str
  instance_id:
    description:
      - The instance whose action is done, with O(state=INSTANCE_ACTION_DONE).
    type: str
  host:
    description:
      - The host of a C(maintenance.host) notification.
    type: str
  host_state:
    description:
      - The state of a C(maintenance.host) notification.
    type: str
    choices: [IN_MAINTENANCE, MAINTENANCE_COMPLETE]
  asked_since:
    description:
      - Keep the asks made since this time (UTC, as RV(asked_at) gives it). A project asked about O(state)
        at or after it, about every instance the new ask names, is not asked again; its answer, or the
        ask it has yet to answer, stands. RV(kept_projects) lists those projects.
      - A project with one instance more (a server that came to O(hosts) since) is asked again about
        all of them.
      - The rolling maintenance role asks the next batch's projects while a batch is upgraded, and gives
        that ask's RV(asked_at) here when the next batch begins, so that they are not asked twice.
    type: str
  actions_at:
    description:
      - When the actions start, in UTC, as C(YYYY-MM-DD HH:MM:SS).
      - Defaults to the session's C(maintenance_at) for V(MAINTENANCE) (when later than
        the reply deadline), else to the reply deadline.
    type: str
  wait_for_replies:
    description:
      - Once the projects are asked, wait for their answers to O(state) as
        M(fenix.maintenance.project_reply_wait) does (reminders with O(renotify), then O(silent_policy);
        a NACK fails the module unless O(fail_on_nack=false)), for at most O(timeout) seconds, and return
        them in RV(replies). A rolling maintenance asks and waits with one module run.
      - Every project asked about O(state) in the session is waited for, those kept by O(asked_since) too;
        when all have answered already, nothing is waited for.
      - Only with O(event_type=maintenance.scheduled) and a state the projects answer (not
        V(INSTANCE_ACTION_DONE)). Not in check mode, where nothing is asked.
    type: bool
    default: false
    version_added: 0.2.0
  session_state_when_answered:
    description:
      - Once the wait of O(wait_for_replies) ends without failing (every project answered, or the silent
        policy decided for it), move the session to this state in the same module run, as
        O(fenix.maintenance.maintenance_session#module:session_state) would. A rolling maintenance ends its
        session so, with V(MAINTENANCE_DONE) once the projects answered V(MAINTENANCE_COMPLETE).
      - A wait that fails (a NACK, a project still silent) leaves the session where it is.
      - Requires O(wait_for_replies=true). In check mode nothing moves; C(changed) says it would.
    type: str
    choices: [MAINTENANCE, SCALE_IN, PREPARE_MAINTENANCE, START_MAINTENANCE, PLANNED_MAINTENANCE,
              MAINTENANCE_COMPLETE, MAINTENANCE_DONE, MAINTENANCE_FAILED]
    version_added: 0.2.0
  timeout:
    description:
      - With O(wait_for_replies), seconds to wait for every answer, reminders included.
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
    details: Records and sends nothing; returns the notifications that would be sent, and in
      RV(unreachable_projects) the projects no configured transport would reach.
  diff_mode:
    support: partial
    details: With O(move_session), the session's state before and after.
notes:
  - The cloud is contacted to find the projects with servers on the hosts, to find the
    C(maintenance) endpoint when O(api_url) is omitted, the admin's project for
    C(maintenance.host), and the AODH alarms when O(webhook.discover_from_aodh) is set.
  - A project that no transport reaches does not fail the module. Either it has no VNFM (no
    O(bus), no URL in O(webhook.urls) and no AODH event alarm found for it), or its webhook
    failed after O(webhook.retries) retries. The journal keeps it as asked and logs a
    C(project.unreachable) event with why; the result lists it in RV(unreachable_projects), and a warning
    names it. M(fenix.maintenance.project_reply_wait) reminds it (each reminder is another
    delivery attempt), then its O(fenix.maintenance.project_reply_wait#module:silent_policy)
    decides for it at the deadline.
  - The module fails only on options that cannot work (a O(bus.transport_url) or a
    O(webhook.urls) URL that is not of a supported scheme, no transport at all, no API URL),
    before anything is recorded or sent.
  - The O(wait) option has no effect. O(timeout), O(poll_interval), O(renotify), O(silent_policy) and
    O(fail_on_nack) count only with O(wait_for_replies).
"""

EXAMPLES = r"""
- name: Ask the projects on compute1 to prepare for its maintenance
  fenix.maintenance.project_notify:
    cloud: admin
    session_id: chg-1234
    state: PLANNED_MAINTENANCE
    hosts: [compute1]
    api_url: http://maintenance.example.com:12347/v1
    reply_timeout: 300
    bus:
      transport_url: "{{ rabbit_transport_url }}"
      exchange: fenix
  register: asked

- name: Move the session to PLANNED_MAINTENANCE and ask the projects on compute2, in one task
  fenix.maintenance.project_notify:
    cloud: admin
    session_id: chg-1234
    state: PLANNED_MAINTENANCE
    move_session: true
    hosts: [compute2]
    api_url: http://maintenance.example.com:12347/v1
    bus:
      transport_url: "{{ rabbit_transport_url }}"

- name: Tell a VNFM without AODH through its webhook
  fenix.maintenance.project_notify:
    session_id: chg-1234
    state: MAINTENANCE
    projects:
      - project_id: 0f4e1c9e5b6f4f49a4b0d1c0a0f0e0d1
        instance_ids: [6a121e48-4490-4ba3-9093-bdbd6ace2cd2]
    api_url: http://maintenance.example.com:12347/v1
    webhook:
      urls:
        0f4e1c9e5b6f4f49a4b0d1c0a0f0e0d1: http://vnfm.example.com:12348/maintenance
      retries: 5

- name: Ask the projects on compute3 and wait up to 5 minutes for their answers, reminding them once
  fenix.maintenance.project_notify:
    cloud: admin
    session_id: chg-1234
    state: PLANNED_MAINTENANCE
    move_session: true
    hosts: [compute3]
    api_url: http://maintenance.example.com:12347/v1
    reply_timeout: 300
    bus:
      transport_url: "{{ rabbit_transport_url }}"
    wait_for_replies: true
    timeout: 300
    renotify: 1
  register: answered

- name: Tell monitoring that compute1 is in maintenance
  fenix.maintenance.project_notify:
    cloud: admin
    session_id: chg-1234
    event_type: maintenance.host
    host: compute1
    host_state: IN_MAINTENANCE
    bus:
      transport_url: "{{ rabbit_transport_url }}"
"""

RETURN = r"""
notifications:
  description:
    - The notifications sent (or, in check mode, that would be sent), one per project, or one per
      instance for V(PREPARE_MAINTENANCE) and V(PLANNED_MAINTENANCE) in a C(vnf) session.
  returned: always
  type: list
  elements: dict
  contains:
    project_id:
      description: The project notified (the admin's project for C(maintenance.host)).
      type: str
    event_type:
      description: C(maintenance.scheduled) or C(maintenance.host).
      type: str
      sample: maintenance.scheduled
    message_id:
      description: ID of the notification (C(message_id) on the bus and in the webhook event).
      type: str
    payload:
      description: The payload sent.
      type: dict
      sample:
        service: fenix
        project_id: fc9628a8089441e9af02942f29e0072c
        session_id: chg-1234
        state: PLANNED_MAINTENANCE
        instance_ids: http://maintenance.example.com:12347/v1/maintenance/chg-1234/fc9628a8089441e9af02942f29e0072c
        allowed_actions: [MIGRATE, LIVE_MIGRATE, OWN_ACTION]
        actions_at: "2026-12-01 02:05:00"
        reply_at: "2026-12-01 02:05:00"
        metadata: {release: "2026.2"}
        reply_url: http://maintenance.example.com:12347/v1/maintenance/chg-1234/fc9628a8089441e9af02942f29e0072c
    delivered:
      description: Whether any transport delivered it (false in check mode).
      type: bool
    unreachable:
      description:
        - For an ask no transport delivered, C(reason) and C(why) as in RV(unreachable_projects);
          null otherwise. A project asked per instance is unreachable when none of its
          notifications arrived, and only its first one says so.
      type: dict
    deliveries:
      description:
        - The outcome per transport, C(bus) and/or C(webhook), each with C(ok) and C(error);
          C(bus) adds C(exchange), C(routing_key) and C(transport_url) (without password),
          C(webhook) adds C(posts), one per URL with C(url), C(alarm_id), C(ok), C(status),
          C(attempts) and C(error).
      type: dict
unreachable_projects:
  description:
    - The projects asked about a state that no transport reached (in check mode, that no
      configured transport would reach). The silent policy of
      M(fenix.maintenance.project_reply_wait) decides for them at their deadline.
    - Not named C(unreachable), a key by which Ansible would mark the host unreachable.
  returned: always
  type: list
  elements: dict
  contains:
    project_id:
      description: ID of the project.
      type: str
    state:
      description: The state it was asked about.
      type: str
      sample: PLANNED_MAINTENANCE
    reason:
      description:
        - V(no_vnfm) when nothing could reach it (no bus, no webhook URL, no AODH event alarm),
          V(undelivered) when its transports failed (for example its webhook refused the
          connection after every retry).
      type: str
      sample: no_vnfm
    why:
      description: What was missing, or what each transport answered.
      type: str
      sample: "no webhook URL and no bus: a project without a VNFM"
projects:
  description:
    - The journal's record of each project notified, after the run (C(project_id), C(state),
      C(reply), C(instance_actions), C(notified_at), C(notify_count), C(replied_at),
      C(instance_ids), C(allowed_actions), C(actions_at), C(reply_at)). Empty in check mode
      and for notifications that ask nothing.
  returned: always
  type: list
  elements: dict
asked_at:
  description:
    - When this task's asks were recorded (the earliest, in UTC), to give as O(asked_since) to a later
      task that should not ask the same projects again. Null when nothing was asked (every project
      kept, none affected, or check mode).
  returned: always
  type: str
  sample: "2026-12-01T02:00:00.000000Z"
kept_projects:
  description:
    - The projects not asked again because of O(asked_since), each with C(project_id), C(notified_at) (its
      earlier ask), C(answered) (whether its answer is in) and C(reply) (the answer, or null).
  returned: always
  type: list
  elements: dict
  sample: [{project_id: fc9628a8089441e9af02942f29e0072c, notified_at: "2026-12-01T02:00:00.000000Z", answered: true,
            reply: ACK_PLANNED_MAINTENANCE}]
session_state:
  description:
    - The session's state after the module (moved to O(state) with O(move_session), then to
      O(session_state_when_answered) once the projects answered).
  returned: always
  type: str
  sample: PLANNED_MAINTENANCE
replies:
  description:
    - With O(wait_for_replies), the answers waited for, with the keys M(fenix.maintenance.project_reply_wait)
      returns - C(projects) (each with C(project_id), C(state), C(reply), C(instance_actions), C(latency),
      C(notify_count), C(decided_by), C(unreachable)), C(silent), C(nacked), C(answered_by_policy),
      C(decided_at_once), C(unreachable_projects), C(reminders) and C(waited) (seconds).
  returned: with O(wait_for_replies), not in check mode
  type: dict
  sample:
    projects:
      - project_id: fc9628a8089441e9af02942f29e0072c
        state: PLANNED_MAINTENANCE
        reply: ACK_PLANNED_MAINTENANCE
        instance_actions: {6a121e48-4490-4ba3-9093-bdbd6ace2cd2: LIVE_MIGRATE}
        latency: 0.4
        notify_count: 1
        decided_by: replied
        unreachable: null
    silent: []
    nacked: []
    answered_by_policy: []
    decided_at_once: []
    unreachable_projects: []
    reminders: []
    waited: 0.5
journal:
  description: The journal, a file path or a PostgreSQL DSN without its password.
  returned: always
  type: str
"""

from dataclasses import asdict
from datetime import datetime
from typing import Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.clock import fenix_time, parse_time
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import list_servers
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.awaiting import (
    AwaitsReplies,
    reply_wait_argument_spec,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import (
    HOST_EVENT,
    Notification,
    Notifier,
    asks_from_list,
    asks_from_servers,
    default_actions_at,
    host_payload,
    notify_argument_spec,
    split_kept_asks,
    undelivered,
    undelivered_warning,
    unreachable_projects,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import (
    HOST_STATES,
    INSTANCE_ACTION_DONE,
    PROJECT_STATES,
    SESSION_STATES,
)


class ProjectNotifyModule(AwaitsReplies, OpenStackModule):
    argument_spec = dict(
        notify_argument_spec(),
        session_id=dict(required=True),
        event_type=dict(default="maintenance.scheduled", choices=["maintenance.scheduled", HOST_EVENT]),
        state=dict(choices=list(PROJECT_STATES)),
        move_session=dict(type="bool", default=False),
        projects=dict(type="list", elements="dict", options=dict(
            project_id=dict(required=True),
            instance_ids=dict(type="list", elements="str", default=[]),
        )),
        hosts=dict(type="list", elements="str"),
        instance_id=dict(),
        host=dict(),
        host_state=dict(choices=list(HOST_STATES)),
        actions_at=dict(),
        asked_since=dict(),
        wait_for_replies=dict(type="bool", default=False),
        session_state_when_answered=dict(choices=list(SESSION_STATES)),
        **reply_wait_argument_spec(),
    )
    module_kwargs = dict(
        supports_check_mode=True,
        required_one_of=[("bus", "webhook")],
        required_if=[
            ("event_type", HOST_EVENT, ["host", "host_state"]),
            ("state", INSTANCE_ACTION_DONE, ["instance_id"]),
            ("move_session", True, ["state"]),
        ],
        mutually_exclusive=[("projects", "hosts")],
    )
    uses_journal = True

    def run(self) -> dict:
        result = self.partial_result = dict(changed=False, notifications=[], projects=[], unreachable_projects=[],
                                            asked_at=None, kept_projects=[], journal=self.journal_shown)
        asked_since = self.asked_since()
        self.refuse_waiting_for_no_answer()
        session_id = self.params["session_id"]
        if not self.journal_exists:
            self.fail("session_id: no journal at %s, so no session %s; create the session with"
                      " fenix.maintenance.maintenance_session first" % (self.journal_shown, session_id))
        session = self.session(session_id)
        if self.params["move_session"]:
            session = self.move_session(session, result)
        result["session_state"] = session.state if not self.params["move_session"] else self.params["state"]
        notifier = Notifier(self.journal, self.params, lambda: self.conn)
        if self.params["event_type"] == HOST_EVENT:
            sent = self.notify_admin(notifier, session)
        elif self.state(session) == INSTANCE_ACTION_DONE:
            sent = self.notify_instance_done(notifier, session)
        else:
            sent = self.notify_projects(notifier, session, result, asked_since)
        result.update(changed=bool(sent) or result["changed"], notifications=sent,
                      unreachable_projects=unreachable_projects(sent))
        # A project no transport reached is no reason to stop: the silent policy decides for it at its
        # deadline (project_reply_wait). Only bad options fail, and they fail before anything is recorded.
        failed = undelivered(sent) if not self.check_mode else []
        if failed:
            self.warn(undelivered_warning(failed))
        if self.params["wait_for_replies"] and not self.check_mode:
            self.wait_for_replies(session, result)
        if self.params["session_state_when_answered"]:
            self.move_session_when_answered(session, result)
        return result

    def refuse_waiting_for_no_answer(self) -> None:
        if self.params["session_state_when_answered"] and not self.params["wait_for_replies"]:
            raise ValueError("session_state_when_answered: the session moves once the projects answered; set"
                             " wait_for_replies=true, or move it with maintenance_session")
        if not self.params["wait_for_replies"]:
            return
        if self.params["event_type"] == HOST_EVENT or self.params["state"] == INSTANCE_ACTION_DONE:
            raise ValueError("wait_for_replies: nobody answers %s; drop it, or wait with project_reply_wait for"
                             " an ask" % (HOST_EVENT if self.params["event_type"] == HOST_EVENT
                                          else INSTANCE_ACTION_DONE))

    def wait_for_replies(self, session, result: dict) -> None:
        """The answers to the state just asked, in ``result`` (a failed wait reports what it saw)."""
        outcome, replies = self.await_replies(session, self.state(session))
        result["changed"] = result["changed"] or replies.pop("changed")
        result["replies"] = replies
        self.fail_on_answers(outcome)

    def move_session_when_answered(self, session, result: dict) -> None:
        """The session moved to session_state_when_answered, the wait having ended without failing."""
        wanted = self.params["session_state_when_answered"]
        if self.diff_mode:
            result.setdefault("diff", dict(before={"state": session.state}))["after"] = {"state": wanted}
        result["session_state"] = wanted
        # Read again after the wait, which may have lasted: the journal says where the session is now.
        self.moved_to(wanted, self.journal.session(session.session_id) if not self.check_mode else session, result)

    def move_session(self, session, result: dict):
        """The session moved to the asked state (recorded before anything is sent, as maintenance_session would)."""
        wanted = self.params["state"]
        if wanted not in SESSION_STATES:
            self.fail("move_session: %s is not a session state; move the session only to one of %s"
                      % (wanted, ", ".join(state for state in PROJECT_STATES if state in SESSION_STATES)))
        if self.diff_mode:
            result["diff"] = dict(before={"state": session.state}, after={"state": wanted})
        return self.moved_to(wanted, session, result)

    def moved_to(self, wanted: str, session, result: dict):
        """The session in ``wanted`` (as it is, in check mode), ``changed`` in ``result`` when it moves."""
        if (session.state, session.reason) == (wanted, None):
            return session
        result["changed"] = True
        if self.check_mode:
            return session
        return self.journal.set_session_state(session.session_id, wanted)

    def state(self, session) -> str:
        state = self.params["state"] or session.state
        if state not in PROJECT_STATES:
            raise ValueError("state: the session is in %s, which is not sent to projects; give one of %s"
                             % (state, ", ".join(PROJECT_STATES)))
        return state

    def asked_since(self) -> Optional[datetime]:
        """The asked_since option as a time, refused before anything changes when it is not one."""
        if self.params["asked_since"] is None:
            return None
        if self.params["event_type"] == HOST_EVENT or self.params["state"] == INSTANCE_ACTION_DONE:
            raise ValueError("asked_since: only asks are kept; drop it for %s"
                             % (HOST_EVENT if self.params["event_type"] == HOST_EVENT else INSTANCE_ACTION_DONE))
        try:
            return parse_time(self.params["asked_since"])
        except ValueError as exc:
            raise ValueError("asked_since: %s; give the asked_at an earlier project_notify returned" % exc) from exc

    def notify_projects(self, notifier, session, result, asked_since: Optional[datetime]) -> list:
        state = self.state(session)
        reply_at = notifier.reply_at()
        actions_at = self.actions_at(state, session, reply_at)
        if self.params["projects"] is not None:
            asks = asks_from_list(self.params["projects"], state, actions_at, reply_at)
        elif self.params["hosts"] is None and state == "MAINTENANCE_COMPLETE":
            asks = asks_from_list(
                [{"project_id": p.project_id, "instance_ids": p.instance_ids} for p in self.journal.projects(session.session_id)],
                state, actions_at, reply_at)
        else:
            hosts = self.params["hosts"] or [record.host for record in self.journal.hosts(session.session_id)]
            asks = asks_from_servers(list_servers(self.conn, hosts), hosts, state, actions_at, reply_at)
        if asked_since is not None:
            records = {record.project_id: record for record in self.journal.projects(session.session_id)}
            asks, kept = split_kept_asks(asks, records, asked_since)
            result["kept_projects"] = [dict(project_id=record.project_id, notified_at=record.notified_at,
                                            answered=record.answered, reply=record.reply) for record in kept]
        sent = notifier.ask_and_send(session, asks, self.check_mode)
        if not self.check_mode:
            asked = {ask.project_id for ask in asks}
            result["projects"] = [asdict(p) for p in self.journal.projects(session.session_id) if p.project_id in asked]
            result["asked_at"] = min((p["notified_at"] for p in result["projects"]), default=None)
        return sent

    def actions_at(self, state, session, reply_at) -> str:
        if self.params["actions_at"]:
            return fenix_time(parse_time(self.params["actions_at"]))
        return default_actions_at(state, session.maintenance_at, reply_at)

    def notify_instance_done(self, notifier, session) -> list:
        instance_id = self.params["instance_id"]
        project_id = self.project_of(session.session_id, instance_id)
        return notifier.announce_instance_done(session.session_id, project_id, instance_id, self.check_mode)

    def project_of(self, session_id, instance_id) -> str:
        """The instance's project: from the journal, the projects option, or Nova."""
        for record in self.journal.instances(session_id):
            if record.instance_id == instance_id:
                return record.project_id
        for item in self.params["projects"] or []:
            if instance_id in item["instance_ids"] or len(self.params["projects"]) == 1:
                return item["project_id"]
        server = self.conn.compute.get_server(instance_id)
        return server.project_id

    def notify_admin(self, notifier, session) -> list:
        project_id = self.conn.current_project_id
        payload = host_payload(session.session_id, self.params["host"], self.params["host_state"], project_id)
        notification = Notification(HOST_EVENT, payload, timestamp=notifier.now())
        return notifier.announce(session.session_id, notification, self.check_mode, host=self.params["host"])


def main() -> None:
    module = ProjectNotifyModule()
    module()


if __name__ == "__main__":
    main()
