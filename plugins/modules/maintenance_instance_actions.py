#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_instance_actions
short_description: Move the servers off hosts as their projects answered
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - For every server on O(hosts), does what its project answered in the session
    journal (M(fenix.maintenance.project_reply_wait) waits for the answers) -
    V(LIVE_MIGRATE) or V(MIGRATE) to the planned target host, or V(OWN_ACTION),
    waiting until the project has moved or removed the server itself. A server
    whose project named no action gets the planned kind (live for running servers,
    cold for the others).
  - Moves go wave after wave as planned by M(fenix.maintenance.maintenance_plan), so that
    no instance group has more than its C(max_impacted_members) affected at once.
  - When every action is a migration and O(concurrency) is above 1, the waves overlap - a move of a later wave
    waits for the earlier members of its own groups (and its C(lead_time) and their C(recovery_time)), not for
    the whole wave before it, and a group's members take a free slot before the servers of no group. A member
    waiting out its hold once the members before it moved keeps one slot of its source and target hosts, so
    a server started meanwhile does not make it wait a whole migration more. So a group
    that must move one member at a time moves beside the other servers instead of after them. A member whose
    earlier member failed to move is not moved; the others go on, and the module fails naming both.
    With an V(OWN_ACTION) to await, waves run one after the other.
  - Each action is written to the journal before it starts and marked done after;
    each finished action is announced to its project with C(INSTANCE_ACTION_DONE)
    on the configured transports.
  - The progress of a long live migration and what its timeout led to are journal events of the
    session (C(instance.migration_progress), C(instance.migration_timeout)).
  - A planned target that fails a migration (its nova-compute went down since the plan, the scheduler finds
    no room there) is dropped from the retries (O(retries)) - the scheduler chooses, its filters still holding
    anti-affinity; the event C(instance.migration_target_dropped) and RV(instances[].note) say so.
  - Where the scheduler placed a server (no planned target, or one dropped), the module checks after its wave
    (after all of them when they overlap) that none of its anti-affinity groups has two members on one host, and
    fails naming them if one has.
  - A project that answered NACK stops everything before any server moves.
  - The projects' constraints hold a wave (an instance, when waves overlap) back until each of its instances may be acted on - C(lead_time)
    seconds after its project was told of this batch (its notice), and C(recovery_time) seconds after the
    last move of another member of each of its instance groups ended, in this batch or an earlier one.
    Each wait is a journal event C(instance.held) with its reason.
options:
  session_id:
    description:
      - The maintenance session in the journal.
    type: str
    required: true
  hosts:
    description:
      - The hosts to empty (one batch).
    type: list
    elements: str
    required: true
  moves:
    description:
      - The planned moves (from M(fenix.maintenance.maintenance_plan)); servers not listed go in
        a last wave without a target, placed by the scheduler.
    type: list
    elements: dict
    default: []
    suboptions:
      server_id:
        description: The server.
        type: str
        required: true
      to_host:
        description: Target host; the scheduler chooses when omitted.
        type: str
      kind:
        description:
          - What to do when the project named no action; V(OWN_ACTION) waits for the project to move it
            (its C(migration_type) constraint said so).
        type: str
        choices: [MIGRATE, LIVE_MIGRATE, OWN_ACTION]
      group_id:
        description: Its Nova server group (whose C(recovery_time) paces its members' moves).
        type: str
      fenix_group_id:
        description: Its Fenix instance group when that is not its Nova server group.
        type: str
      wave:
        description: Moves of one wave run together; waves run in order (or overlap, see above).
        type: int
        default: 0
  waves:
    description:
      - The planned moves as M(fenix.maintenance.maintenance_plan) gives them for a batch
        (the C(waves) of a batch in RV(fenix.maintenance.maintenance_plan#module:plan.batches)) - a list of waves,
        each a list of moves with C(server_id), C(to_host), C(kind), C(group_id) and C(fenix_group_id).
        Other keys are ignored.
      - Mutually exclusive with O(moves).
    type: list
    elements: list
  allow_nack:
    description:
      - Go on when a project answered NACK (its servers get the planned kind).
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for one migration, and for a project's own action. A live migration still
        running then is aborted or forced to complete (O(on_timeout)).
    type: int
    default: 600
  wait_empty:
    description:
      - Once the servers moved, wait until each of O(hosts) holds no server and no Placement allocation, as
        M(fenix.maintenance.host_wait_empty) does (a server booted onto a host before it was disabled, an
        unconfirmed migration), at most O(empty_timeout) seconds; then fail naming what is left.
      - Not in check mode.
    type: bool
    default: false
  empty_timeout:
    description:
      - Seconds O(wait_empty) waits for each host.
    type: int
    default: 600
  upgrade_begins:
    description:
      - Once every host is empty (O(wait_empty)), record in the session's journal that their upgrade begins -
        progress state C(IN_MAINTENANCE) and C(upgrade_started) in the host's details - in the module run
        that emptied them. The rolling maintenance role keeps a host whose upgrade began disabled when the
        run fails later, as it may be half upgraded (see the role's C(rolling_maintenance_on_failure)).
      - Requires O(wait_empty), and O(hosts) must be hosts of the session. In check mode, C(changed) says
        whether a host is not recorded so yet.
    type: bool
    default: false
    version_added: 0.2.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.notify
  - fenix.maintenance.openstack
  - fenix.maintenance.openstack.MIGRATION
  - fenix.maintenance.journal
  - fenix.maintenance.openstack.SESSION_ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: all
  check_mode:
    support: full
    details: Decides every server's action and reports it; moves, records and sends nothing.
  diff_mode:
    support: none
notes:
  - The O(wait) option has no effect; the module always waits.
"""

EXAMPLES = r"""
- name: Move the servers off this batch as their projects answered
  fenix.maintenance.maintenance_instance_actions:
    cloud: admin
    session_id: chg-1234
    hosts: [compute1, compute2]
    waves: "{{ batch_plan.plan.batches[0].waves }}"
    concurrency: 4
    api_url: http://192.0.2.10:12347/v1
    webhook:
      urls:
        8a1b2c3d4e5f: http://vnfm.example:12348/maintenance
"""

RETURN = r"""
instances:
  description: What was (or in check mode would be) done with each server, in wave order.
  returned: always
  type: list
  elements: dict
  contains:
    server_id:
      description: The server.
      type: str
    project_id:
      description: Its project.
      type: str
    action:
      description: C(LIVE_MIGRATE), C(MIGRATE) or C(OWN_ACTION).
      type: str
    decided_by:
      description: C(project) when its project named the action, C(plan) otherwise.
      type: str
    from_host:
      description: Where it was.
      type: str
    to_host:
      description: Where it is now (null when the project removed it).
      type: str
    wave:
      description: The wave it moved in.
      type: int
    outcome:
      description: C(done), C(failed), or null in check mode.
      type: str
    duration:
      description: Seconds its action took.
      type: float
    note:
      description:
        - Why the action differs from what was asked or planned, if it does, e.g. that its planned target failed
          the migration (its nova-compute went down, no room there) and a retry let the scheduler choose.
      type: str
    timeout_action:
      description:
        - What was done with its migration when it ran past O(timeout) (null when it finished in time) -
          V(aborted) (back on its source, the action failed), V(forced) (forced to complete on the target)
          or V(reported) (nothing Nova allows, see C(error)); as in
          M(fenix.maintenance.server_migrate)'s RV(fenix.maintenance.server_migrate#module:servers[].timeout_action).
      type: str
    progress:
      description:
        - Progress lines of a live migration that ran longer than 10 seconds, with the keys of
          M(fenix.maintenance.server_migrate)'s RV(fenix.maintenance.server_migrate#module:servers[].progress).
      type: list
      elements: dict
    groups:
      description: Its Nova server group and Fenix instance group, whose C(recovery_time) paced it.
      type: list
      elements: str
    waited:
      description:
        - Null when it was acted on at once; else C(seconds) it was held back and C(why) (its C(lead_time)
          after its project's notice, or a group's C(recovery_time) after another member's move).
      type: dict
  sample:
    - server_id: 0b7c...
      project_id: 8a1b...
      action: LIVE_MIGRATE
      decided_by: project
      from_host: compute1
      to_host: compute3
      wave: 0
      outcome: done
      duration: 8.4
      note: null
      timeout_action: null
      progress: []
      groups: [5f0e...]
      waited: {seconds: 4.2, why: "recovery_time 10s of group 5f0e... after 7d1a... moved"}
counts:
  description: Servers by action.
  returned: always
  type: dict
  sample: {LIVE_MIGRATE: 3, MIGRATE: 1, OWN_ACTION: 0}
empty:
  description:
    - With O(wait_empty), each host and the seconds it was waited for once the moves were done. On failure,
      C(remaining) lists what is left on the host that is not empty, as
      M(fenix.maintenance.host_wait_empty)'s RV(fenix.maintenance.host_wait_empty#module:remaining).
  returned: when O(wait_empty) is true and not in check mode
  type: list
  elements: dict
  sample:
    - host: compute1
      waited: 0.0
"""

import time

from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.drain import HostNotEmpty, wait_host_empty
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (
    MIGRATION_COUNTS,
    MIGRATION_DELAYS,
    Migrator,
    ServersRead,
    invalid_number,
    migration_argument_spec,
    migration_settings,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import list_servers
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import (
    Notifier,
    notify_argument_spec,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import IN_MAINTENANCE, INSTANCE_ACTIONS
from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.instance_actions import (
    InstanceActions,
    decide,
)


class MaintenanceInstanceActionsModule(OpenStackModule):
    argument_spec = dict(
        session_id=dict(required=True),
        hosts=dict(type="list", elements="str", required=True),
        moves=dict(type="list", elements="dict", default=[], options=dict(
            server_id=dict(required=True),
            to_host=dict(),
            kind=dict(choices=list(INSTANCE_ACTIONS)),
            wave=dict(type="int", default=0),
            group_id=dict(),
            fenix_group_id=dict(),
        )),
        waves=dict(type="list", elements="list"),
        allow_nack=dict(type="bool", default=False),
        timeout=dict(type="int", default=600),
        wait_empty=dict(type="bool", default=False),
        empty_timeout=dict(type="int", default=600),
        upgrade_begins=dict(type="bool", default=False),
        **migration_argument_spec(),
        **notify_argument_spec(),
    )
    module_kwargs = dict(supports_check_mode=True, mutually_exclusive=[("moves", "waves")])
    uses_journal = True

    def run(self) -> dict:
        params = self.params
        problem = invalid_number(params, at_least_one=MIGRATION_COUNTS,
                                 not_negative=MIGRATION_DELAYS + ("empty_timeout",))
        if problem:
            self.fail_json(msg=problem)
        session = self.session(params["session_id"])
        notifier = Notifier(self.journal, params, lambda: self.conn)
        hosts = params["hosts"]
        to_record = self.upgrades_to_record(session.session_id, hosts)
        servers = list_servers(self.conn, hosts)
        read = ServersRead(servers, time.monotonic())
        replies = {record.project_id: record for record in self.journal.projects(session.session_id)}
        try:
            moves = {move["server_id"]: move for move in params["moves"] + moves_of_waves(params["waves"] or [])}
        except (KeyError, TypeError) as exc:  # a malformed waves option: say what a move needs
            self.fail_json(msg="waves: each move needs server_id (and to_host, kind) as maintenance_plan gives"
                               " them (%s)" % exc)
        work = decide(servers, moves, replies, params["allow_nack"])
        result = dict(changed=bool(work) or bool(to_record), instances=[item.as_dict() for item in work],
                      counts=counts(work))
        if self.check_mode:
            return result
        if work:
            self.act(session.session_id, notifier, hosts, work, result, read)
        if params["wait_empty"]:
            result["empty"] = self.wait_empty(hosts, result)
        # One write for the batch: its hosts' upgrades begin together or, the write failing, none is recorded.
        with self.journal.transaction():
            for host in to_record:
                self.journal.set_host(session.session_id, host, state=IN_MAINTENANCE,
                                      details={"upgrade_started": True})
        return result

    def upgrades_to_record(self, session_id: str, hosts: list) -> list:
        """With upgrade_begins, the hosts whose record does not say yet that their upgrade began."""
        if not self.params["upgrade_begins"]:
            return []
        if not self.params["wait_empty"]:
            self.fail("upgrade_begins: a host's upgrade begins once it is empty; set wait_empty=true as well")
        records = self.session_hosts(session_id, hosts, "upgrade_begins")
        return [host for host in hosts
                if not (records[host].state == IN_MAINTENANCE and records[host].details.get("upgrade_started"))]

    def act(self, session_id: str, notifier: Notifier, hosts: list, work: list, result: dict,
            read: ServersRead) -> None:
        """Do each server's action, wave after wave; ``result`` reports each instance as it ended."""
        params = self.params
        api_url = notifier.api_url()

        def announce(item) -> None:
            notifier.announce_instance_done(session_id, item.project_id, item.server_id, api_url=api_url)

        # The plan's targets were chosen before the batch: one that fails a migration is dropped, the scheduler
        # chooses (its filters still hold anti-affinity), rather than fail the batch.
        migrator = Migrator(self.conn, migration_settings(params, params["timeout"], target_fallback=True))
        actions = InstanceActions(self.conn, self.journal, session_id, migrator, announce, params["timeout"],
                                  params["poll_interval"], lambda: list_servers(self.conn, hosts), read=read)
        self.partial_result = result  # a failed action reports each instance as the failure left it
        try:
            actions.run(work)
        finally:
            result["instances"] = [item.as_dict() for item in work]

    def wait_empty(self, hosts: list, result: dict) -> list:
        """Each host once it holds nothing, with the seconds waited; a host still holding something fails the module."""
        emptied = []
        for host in hosts:
            started = time.monotonic()
            try:
                wait_host_empty(self.conn, host, self.params["empty_timeout"], self.params["poll_interval"])
            except HostNotEmpty as exc:
                self.fail(str(exc), **dict(result, empty=emptied, remaining=exc.contents.describe()))
            emptied.append(dict(host=host, waited=round(time.monotonic() - started, 1)))
        return emptied


def moves_of_waves(waves: list) -> list:
    """The plan's waves as moves carrying their wave number."""
    return [{"server_id": move["server_id"], "to_host": move.get("to_host"), "kind": move.get("kind"), "wave": index,
             "group_id": move.get("group_id"), "fenix_group_id": move.get("fenix_group_id")}
            for index, wave in enumerate(waves) for move in wave]


def counts(work) -> dict:
    return {name: sum(1 for item in work if item.action == name) for name in INSTANCE_ACTIONS}


def main() -> None:
    MaintenanceInstanceActionsModule()()


if __name__ == "__main__":
    main()
