#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_session_info
short_description: Read maintenance sessions from the journal
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Returns one session or all sessions of the session journal, each with
    its hosts and, on request, its event log.
  - Reads only the journal; the cloud is not contacted.
options:
  session_id:
    description:
      - The session to read. All sessions when not given; an unknown ID gives an empty list.
    type: str
  events:
    description:
      - Whether to return each session's event log.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - fenix.maintenance.openstack
  - fenix.maintenance.openstack.JOURNAL
  - fenix.maintenance.openstack.ATTRIBUTES
attributes:
  platform:
    support: full
    platforms: all
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
notes:
  - The connection options are accepted so that C(module_defaults) of the
    action group apply, but they are not used.
"""

EXAMPLES = r"""
- name: All sessions
  fenix.maintenance.maintenance_session_info:
  register: sessions

- name: One session with its event log
  fenix.maintenance.maintenance_session_info:
    session_id: chg-1234
    events: true
"""

RETURN = r"""
sessions:
  description:
    - The sessions, oldest first, each with the keys of
      M(fenix.maintenance.maintenance_session)'s RV(fenix.maintenance.maintenance_session#module:session).
    - With O(events=true), each also has C(events), a list of C(event_id),
      C(at), C(kind), C(host), C(project_id), C(instance_id) and C(details).
    - Each has C(summary) - C(hosts_total), C(hosts_maintained), C(hosts_disabled_by_session),
      C(moves) (finished instance actions by action), C(projects) (per project C(replies),
      C(decided_by_policy), C(last_reply), C(median_reply_seconds) and C(max_reply_seconds) from
      each notification to its answer), C(total_seconds) from creation to the last change.
  returned: always
  type: list
  elements: dict
  sample:
    - session_id: chg-1234
      state: PLANNED_MAINTENANCE
      reason: null
      workflow: default
      maintenance_at: "2026-12-01T02:00:00Z"
      metadata: {release: "2026.2"}
      request: {hosts: [compute1], actions: []}
      hosts:
        - {host: compute1, state: PENDING, disabled_by_session: false, maintained: false, details: {}}
      projects: []
      instances: []
      action_runs: []
      created_at: "2026-11-22T12:00:00.000000Z"
      updated_at: "2026-11-22T12:05:00.000000Z"
journal:
  description: The journal, a file path or a PostgreSQL DSN without its password.
  returned: always
  type: str
  sample: /root/.local/state/fenix.maintenance/journal.sqlite
"""

from ansible_collections.fenix.maintenance.plugins.module_utils.journal import SessionNotFound
from ansible_collections.fenix.maintenance.plugins.module_utils.openstack import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.session import (
    journal_exists,
    journal_path,
    open_journal,
    session_view,
)


class MaintenanceSessionInfoModule(OpenStackModule):
    argument_spec = dict(
        journal=dict(no_log=False),
        session_id=dict(),
        events=dict(default=False, type="bool"),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self) -> dict:
        path = journal_path(self.params["journal"])
        if not journal_exists(path):
            return dict(changed=False, sessions=[], journal=path)
        journal = open_journal(path)
        if self.params["session_id"]:
            try:
                sessions = [journal.session(self.params["session_id"])]
            except SessionNotFound:
                sessions = []
        else:
            sessions = journal.sessions()
        return dict(
            changed=False,
            sessions=[session_view(journal, session, self.params["events"]) for session in sessions],
            journal=journal.path,
        )


def main() -> None:
    module = MaintenanceSessionInfoModule()
    module()


if __name__ == "__main__":
    main()
