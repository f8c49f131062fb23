#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_session
short_description: Create, resume, update or delete a maintenance session in the journal
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Keeps a maintenance session in the session journal, with the fields of
    the Fenix Host Maintenance API v1 create body (hosts, maintenance_at,
    workflow, metadata, actions, download).
  - With O(state=present), creates the session, or resumes it when
    O(session_id) names one the journal has (nothing changes then unless
    O(session_state) asks for another state).
  - Before creating a session (in check mode too), checks that the cloud's compute and Placement
    APIs offer the microversions the collection needs (OpenStack Rocky or later), and fails naming
    what is missing otherwise.
  - With O(state=absent), deletes the session after enabling again every
    host the session disabled (hosts someone else has disabled since are left alone).
options:
  session_id:
    description:
      - ID of the session. A new UUID is made when creating without one,
        so give one to make repeated runs idempotent.
      - Required with O(state=absent).
    type: str
  state:
    description:
      - Whether the session should exist.
    type: str
    choices: [present, absent]
    default: present
  session_state:
    description:
      - Move the session to this Fenix state (for example V(MAINTENANCE_FAILED) with a O(reason)).
    type: str
    choices: [MAINTENANCE, SCALE_IN, PREPARE_MAINTENANCE, START_MAINTENANCE, PLANNED_MAINTENANCE,
              MAINTENANCE_COMPLETE, MAINTENANCE_DONE, MAINTENANCE_FAILED]
  reason:
    description:
      - Why the session is in O(session_state) (kept with the state, shown by
        M(fenix.maintenance.maintenance_session_info)).
    type: str
  hosts:
    description:
      - Compute hosts to maintain, as Nova names them. All nova-compute hosts when empty, except
        those disabled by someone else (anyone but this session - a person, another tool, another
        session); M(fenix.maintenance.maintenance_plan) lists them as skipped.
      - Naming a host disabled by someone else fails before anything changes, saying who disabled
        it, unless O(include_disabled=true).
      - Used when the session is created.
    type: list
    elements: str
    default: []
  include_disabled:
    description:
      - Maintain hosts disabled by someone else too, named in O(hosts) or (O(hosts) empty) among
        all hosts. The session never enables such a host; it stays disabled, with its reason, after
        its maintenance.
      - Used when the session is created.
    type: bool
    default: false
  maintenance_at:
    description:
      - When the maintenance may start, in UTC, as C(YYYY-MM-DD HH:MM:SS) (Fenix's form) or
        C(YYYY-MM-DDTHH:MM:SSZ). Used when the session is created.
    type: str
  workflow:
    description:
      - How the projects are asked. Used when the session is created.
      - V(default) asks each project once per state; a project answers for all its instances at once.
      - V(vnf) is Fenix's VNF workflow (ETSI FEAT03), for VNFMs that set instance constraints.
        C(PREPARE_MAINTENANCE) and C(PLANNED_MAINTENANCE) are asked per instance (a one-element
        C(instance_ids) list and a C(reply_url) ending in the instance ID), and an answer without
        C(instance_action) takes the instance's C(migration_type) constraint. The other states stay
        per project. See M(fenix.maintenance.project_notify).
      - Any other name fails before anything changes.
    type: str
    choices: [default, vnf]
    default: default
  metadata:
    description:
      - Free-form metadata of the session (for example the release being installed),
        passed on to the projects. Used when the session is created.
    type: dict
    default: {}
  actions:
    description:
      - Upgrade plugins to run, as in the Fenix create body. Used when the session is created.
    type: list
    elements: dict
    default: []
    suboptions:
      plugin:
        description: Name of the upgrade plugin.
        type: str
        required: true
      type:
        description:
          - When the plugin runs (M(fenix.maintenance.upgrade_plugins)). V(check) plugins are site checks,
            run on a host once it passed M(fenix.maintenance.compute_host_health), before it is enabled.
        type: str
        required: true
        choices: [pre, host, compute, check, controller, post]
      metadata:
        description: Passed to the plugin.
        type: dict
        default: {}
  silent_projects:
    description:
      - What later asks do about a project for which the silent policy of
        M(fenix.maintenance.project_reply_wait) decided, because it did not answer in time or no
        transport reached it (see M(fenix.maintenance.project_notify)).
      - V(ask_again) waits for it at every ask, up to the reply timeout each time (as every earlier
        release did). With the default 120 s, 1,000 hosts in batches of 2 and one project that never
        answers, that is about 17 hours of waiting.
      - V(decide_at_once) lets the silent policy answer for it at once at later asks, unless it has
        answered since (even late); a project that answers again is waited for again. The project
        is still told every state (one delivery attempt, no retries, when nothing reached it the
        time before). One silent project then costs one reply timeout.
      - Kept with the session. Defaults to V(ask_again) for a new session; a resumed session keeps
        its setting unless this is given.
    type: str
    choices: [ask_again, decide_at_once]
  resume_failed:
    description:
      - When the session is C(MAINTENANCE_FAILED), move it back to the state it failed in
        (as the API's C(PUT /v1/maintenance/{session_id}) without a state does), so that a
        resumed run carries on from there. Ignored for a session that has not failed.
    type: bool
    default: false
  settle_timeout:
    description:
      - Seconds a resumed session waits for the migrations its stopped run left in flight (its moves still
        running in the journal) to end in Nova, confirming the cold ones that wait for it; each such move is
        then recorded as done where its server landed or failed where it stayed (RV(settled_moves)).
      - Servers still migrating then fail the task, naming them, before anything else changes.
    type: int
    default: 600
  restore_hosts:
    description:
      - With O(state=present), enable again every host the session disabled (hosts someone else
        has disabled since are left alone), for example when a batch failed or the session is aborted.
    type: bool
    default: false
  restore_only:
    description:
      - With O(restore_hosts=true), enable again only these of the session's hosts (for example the
        one host of a batch that failed, while the others go on).
    type: list
    elements: str
  host_updates:
    description:
      - Record progress of hosts of the session (shown by M(fenix.maintenance.maintenance_session_info)
        and the API's session detail; a resumed run skips hosts marked maintained).
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description:
          - The host, as Nova names it.
          - One of O(host_updates[].host) and O(host_updates[].hosts) is required.
        type: str
      hosts:
        description:
          - Several hosts that get the same update (the hosts of a batch), written in one call.
          - Mutually exclusive with O(host_updates[].host).
        type: list
        elements: str
        version_added: 0.2.0
      state:
        description: Free-form progress state, for example C(EMPTYING), C(PLUGINS), C(MAINTAINED), C(FAILED).
        type: str
      maintained:
        description: Whether the host's maintenance is finished.
        type: bool
      details:
        description: Added to the host's recorded details.
        type: dict
  download:
    description:
      - URLs of software to fetch before the maintenance (Fenix C(download)). Used when the session is created.
    type: list
    elements: str
    default: []
  lease_ttl:
    description:
      - With O(state=present), the ansible-playbook run this task is part of then holds the session's lease,
        as M(fenix.maintenance.maintenance_lease) with O(fenix.maintenance.maintenance_lease#module:ttl) does,
        in the same module run. A rolling maintenance creates its session and takes its lease in one task.
      - Another live run holding the lease fails the task with its holder and since when, after the session was
        created or found (the session is that run's to carry on).
      - At least 5 seconds. Not set, the module takes no lease.
    type: float
    version_added: 0.2.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.openstack
  - fenix.maintenance.journal
  - fenix.maintenance.openstack.SESSION_ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: all
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The session's state before and after.
notes:
  - The cloud is contacted to check the hosts of a new session and to
    enable hosts again on delete; resuming or changing the state only reads the journal.
  - The O(wait) and O(timeout) options have no effect.
"""

EXAMPLES = r"""
- name: Start a session for two hosts
  fenix.maintenance.maintenance_session:
    cloud: admin
    session_id: chg-1234
    hosts: [compute1, compute2]
    maintenance_at: "2026-12-01 02:00:00"
    metadata:
      release: "2026.2"
    actions:
      - plugin: package_upgrade
        type: host
  register: session

- name: Record that a host is done
  fenix.maintenance.maintenance_session:
    session_id: chg-1234
    host_updates:
      - host: compute1
        state: MAINTAINED
        maintained: true

- name: Record that the hosts of a batch are empty and their upgrade begins
  fenix.maintenance.maintenance_session:
    session_id: chg-1234
    host_updates:
      - hosts: [compute3, compute4]
        state: IN_MAINTENANCE
        details:
          upgrade_started: true

- name: Mark it failed and enable again what it disabled
  fenix.maintenance.maintenance_session:
    cloud: admin
    session_id: chg-1234
    session_state: MAINTENANCE_FAILED
    reason: os_upgrade failed on compute2
    restore_hosts: true

- name: Delete it, enabling again what it disabled
  fenix.maintenance.maintenance_session:
    cloud: admin
    session_id: chg-1234
    state: absent
"""

RETURN = r"""
session:
  description: The session after the module ran (null after a delete).
  returned: always
  type: dict
  contains:
    session_id:
      description: ID of the session.
      type: str
      sample: chg-1234
    state:
      description: Fenix state of the session.
      type: str
      sample: MAINTENANCE
    reason:
      description: Why the session is in its state.
      type: str
      sample: null
    workflow:
      description: Workflow name, V(default) or V(vnf).
      type: str
      sample: default
    silent_projects:
      description: What later asks do about projects the silent policy decided for (O(silent_projects)).
      type: str
      sample: ask_again
    maintenance_at:
      description: When the maintenance may start (ISO 8601, UTC).
      type: str
      sample: "2026-12-01T02:00:00Z"
    metadata:
      description: Metadata of the session.
      type: dict
      sample: {release: "2026.2"}
    request:
      description: The create body as stored (hosts, actions, download, ...).
      type: dict
    hosts:
      description: Hosts of the session with their state and whether the session disabled them.
      type: list
      elements: dict
      sample:
        - host: compute1
          state: PENDING
          disabled_by_session: false
          maintained: false
          details: {}
          updated_at: "2026-11-22T12:00:00.000000Z"
    projects:
      description:
        - Projects asked about the session, each with C(project_id), C(state) (the session
          state asked about), C(reply) (C(ACK_<state>), C(NACK_<state>) or null),
          C(instance_actions), C(notified_at), C(notify_count) and C(replied_at).
      type: list
      elements: dict
      sample: []
    instances:
      description:
        - Affected instances, each with C(instance_id), C(project_id), C(host), C(state),
          C(action), C(action_done) and C(details).
      type: list
      elements: dict
      sample: []
    action_runs:
      description:
        - Upgrade plugin runs, each with C(run_id), C(plugin), C(type), C(host), C(state)
          (C(RUNNING), C(DONE) or C(FAILED)), C(started_at), C(ended_at) and C(result).
      type: list
      elements: dict
      sample: []
    summary:
      description: Figures of the session (see M(fenix.maintenance.maintenance_session_info)).
      type: dict
    created_at:
      description: When the session was created.
      type: str
    updated_at:
      description: When the session last changed.
      type: str
created:
  description: Whether this run created the session.
  returned: always
  type: bool
  sample: true
resumed:
  description: Whether the session existed already.
  returned: always
  type: bool
  sample: false
settled_moves:
  description:
    - For a resumed session, the migrations its stopped run had left in flight, as they ended (see O(settle_timeout)).
  returned: when the session existed already
  type: list
  elements: dict
  contains:
    instance_id:
      description: The server.
      type: str
    action:
      description: C(LIVE_MIGRATE) or C(MIGRATE).
      type: str
    from_host:
      description: The host it was leaving.
      type: str
    to_host:
      description: Where it is now.
      type: str
    moved:
      description: Whether it left its host (the move is done) or stayed (the move failed).
      type: bool
  sample: [{instance_id: 0b7c..., action: LIVE_MIGRATE, from_host: compute3, to_host: compute4, moved: true}]
restored_hosts:
  description: Hosts enabled again because the session was deleted or O(restore_hosts) was set.
  returned: always
  type: list
  elements: str
  sample: [compute1]
left_disabled:
  description: Hosts the session had disabled that someone else has taken over since; left as they are.
  returned: always
  type: list
  elements: str
  sample: []
held_lease:
  description:
    - With O(lease_ttl), this run's hold of the session's lease, as M(fenix.maintenance.maintenance_lease) returns it.
  returned: when O(lease_ttl) is set and the session exists or is created
  type: dict
  contains:
    holder:
      description: This run's name as a lease holder.
      type: str
    lease:
      description: The session's lease after the module ran (before it, in check mode).
      type: dict
    taken_over_from:
      description: The run whose expired (or ended) lease this run took over, if any.
      type: str
    keeper_pid:
      description: The process that renews the lease while the run lives, when one was started.
      type: int
  sample: {holder: "ctl-1:28718:4406512:3f2a9c1d (user stack, started from bash)", taken_over_from: null,
           keeper_pid: 28731, lease: {session_id: chg-1234, holder: "ctl-1:28718:4406512:3f2a9c1d (user stack,
           started from bash)", acquired_at: "2026-11-22T12:00:00.000000Z", renewed_at: "2026-11-22T12:00:00.000000Z",
           expires_at: "2026-11-22T12:01:00.000000Z"}}
journal:
  description: The journal, a file path or a PostgreSQL DSN without its password.
  returned: always
  type: str
  sample: /root/.local/state/fenix.maintenance/journal.sqlite
"""

from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.versions import require_floors
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.lease_keeper import check_ttl, hold_for_this_run
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import (
    ASK_AGAIN,
    DEFAULT_WORKFLOW,
    PLUGIN_TYPES,
    SESSION_STATES,
    SILENT_PROJECTS,
    WORKFLOWS,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.session import (
    normalize_maintenance_at,
    resolve_hosts,
    restore_hosts,
    session_view,
    settle_unfinished_moves,
    state_before_failure,
    validate_actions,
)


class MaintenanceSessionModule(OpenStackModule):
    argument_spec = dict(
        session_id=dict(),
        state=dict(default="present", choices=["present", "absent"]),
        session_state=dict(choices=list(SESSION_STATES)),
        reason=dict(),
        hosts=dict(type="list", elements="str", default=[]),
        include_disabled=dict(type="bool", default=False),
        maintenance_at=dict(),
        workflow=dict(default=DEFAULT_WORKFLOW, choices=list(WORKFLOWS)),
        metadata=dict(type="dict", default={}),
        actions=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                plugin=dict(required=True),
                type=dict(required=True, choices=list(PLUGIN_TYPES)),
                metadata=dict(type="dict", default={}),
            ),
        ),
        download=dict(type="list", elements="str", default=[]),
        lease_ttl=dict(type="float"),
        silent_projects=dict(choices=list(SILENT_PROJECTS)),
        resume_failed=dict(type="bool", default=False),
        settle_timeout=dict(type="int", default=600),
        restore_hosts=dict(type="bool", default=False),
        restore_only=dict(type="list", elements="str"),
        host_updates=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                host=dict(),
                hosts=dict(type="list", elements="str"),
                state=dict(),
                maintained=dict(type="bool"),
                details=dict(type="dict"),
            ),
            mutually_exclusive=[("host", "hosts")],
            required_one_of=[("host", "hosts")],
        ),
    )
    module_kwargs = dict(
        supports_check_mode=True,
        required_if=[("state", "absent", ["session_id"])],
    )
    uses_journal = True

    def run(self) -> dict:
        result = dict(changed=False, created=False, resumed=False, restored_hosts=[], left_disabled=[],
                      session=None, journal=self.journal_shown)
        if self.params["lease_ttl"] is not None:
            check_ttl(self.params["lease_ttl"], "lease_ttl")
        if self.check_mode and not self.journal_exists:
            # Check mode must not even create the journal file.
            if self.params["state"] == "present":
                self.create(result)
            return result
        existing = self.find_session(self.params["session_id"])
        if self.params["state"] == "absent":
            return self.delete(existing, result)
        if existing is None:
            existing = self.create(result)
        else:
            result["resumed"] = True
            # The moves a stopped run left in flight end first: planning again over MIGRATING servers would refuse.
            result["settled_moves"] = settle_unfinished_moves(self.conn, self.journal, existing.session_id,
                                                              self.params["settle_timeout"], self.check_mode)
            result["changed"] = result["changed"] or bool(result["settled_moves"])
        if existing is not None:
            self.update_hosts(existing, result)
            existing = self.update_silent_projects(existing, result)
        result = self.update_state(existing, result)
        if self.params["lease_ttl"] is not None:
            self.hold_lease(result)
        return result

    def hold_lease(self, result: dict) -> None:
        """This run holds the lease of the session created or found (last: the keeper's fork closes the journal)."""
        session_id = (result["session"] or {}).get("session_id") or self.params["session_id"]
        if session_id is None:
            return  # check mode, a session to be created under an id not chosen yet
        self.partial_result = result  # a lease held by another run fails the task with what was done
        held = hold_for_this_run(self.journal, self.journal_location, session_id, self.params["lease_ttl"],
                                 self.check_mode, self.close)
        result["changed"] = result["changed"] or held.pop("changed")
        result["held_lease"] = held

    def update_silent_projects(self, session, result):
        """A resumed session takes the setting given; one left out keeps the session's."""
        wanted = self.params["silent_projects"]
        if wanted is None or wanted == session.silent_projects:
            return session
        result["changed"] = True
        if self.check_mode:
            return session
        return self.journal.set_silent_projects(session.session_id, wanted)

    def update_hosts(self, session, result) -> None:
        updates = [(host, update) for update in self.params["host_updates"]
                   for host in ([update["host"]] if update["host"] is not None else update["hosts"])]
        known = self.session_hosts(session.session_id, [host for host, _update in updates], "host_updates")
        for host, update in updates:
            record = known[host]
            wanted = {key: update[key] for key in ("state", "maintained") if update[key] is not None}
            if any(getattr(record, key) != value for key, value in wanted.items()) or update["details"]:
                result["changed"] = True
                if not self.check_mode:
                    self.journal.set_host(session.session_id, host, details=update["details"], **wanted)
        if self.params["restore_hosts"]:
            enabled, left = restore_hosts(self.conn, self.journal, session.session_id, self.check_mode,
                                          only=self.params["restore_only"])
            result.update(restored_hosts=enabled, left_disabled=left)
            result["changed"] = result["changed"] or bool(enabled)

    def create(self, result):
        params = self.params
        maintenance_at = normalize_maintenance_at(params["maintenance_at"])
        validate_actions(params["actions"])
        require_floors(self.conn)
        hosts = resolve_hosts(self.conn, params["hosts"], params["include_disabled"], params["session_id"])
        request = {key: params[key] for key in ("hosts", "maintenance_at", "workflow", "metadata", "actions", "download")}
        result.update(changed=True, created=True)
        if self.check_mode:
            return None
        return self.journal.create_session(hosts, params["workflow"], maintenance_at, params["metadata"],
                                           request, session_id=params["session_id"],
                                           silent_projects=params["silent_projects"] or ASK_AGAIN)

    def update_state(self, session, result):
        wanted = self.params["session_state"]
        if self.params["resume_failed"] and session is not None and session.state == "MAINTENANCE_FAILED":
            wanted = state_before_failure(self.journal, session.session_id)
        before = session.state if session else None
        if session is not None and wanted and (wanted, self.params["reason"]) != (session.state, session.reason):
            result["changed"] = True
            if not self.check_mode:
                session = self.journal.set_session_state(session.session_id, wanted, self.params["reason"])
        if session is not None:
            result["session"] = session_view(self.journal, session)
        if self.diff_mode:
            result["diff"] = dict(before={"state": before}, after={"state": wanted or before or "MAINTENANCE"})
        return result

    def delete(self, session, result):
        if session is None:
            return result
        enabled, left = restore_hosts(self.conn, self.journal, session.session_id, self.check_mode)
        result.update(changed=True, restored_hosts=enabled, left_disabled=left)
        if left:
            self.warn("hosts %s were disabled by this session but someone else has disabled them since;"
                      " left disabled" % ", ".join(left))
        if self.diff_mode:
            result["diff"] = dict(before={"state": session.state}, after={"state": None})
        if not self.check_mode:
            self.journal.delete_session(session.session_id)
        return result


def main() -> None:
    module = MaintenanceSessionModule()
    module()


if __name__ == "__main__":
    main()
