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
  - With O(report=true), also writes the run report of the session - JSON,
    Markdown, a self-contained HTML page and an SVG timeline (one row per host
    with its phases and moves, one row per project with its notifications and
    replies) - and returns the paths. This is the only thing the module writes.
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
  report:
    description:
      - Whether to write the run report of the session named by O(session_id).
      - Files are replaced atomically, and only when their content differs, so
        writing the report of an unchanged session again reports C(changed=false).
    type: bool
    default: false
  report_dir:
    description:
      - The directory the report files go to, as C(<session_id>.json), C(.md),
        C(.html) and C(.svg) (characters of the session ID other than letters,
        digits, C(.), C(_) and C(-) become C(_)).
      - Defaults to C(reports/) beside a SQLite journal. Required with a PostgreSQL journal.
    type: path
  report_formats:
    description:
      - Which documents of the report to write. C(markdown) shows the SVG timeline
        by a relative link when C(svg) is written too; C(html) always inlines it.
    type: list
    elements: str
    choices: [json, markdown, html, svg]
    default: [json, markdown, html, svg]
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
    details: >-
      Without O(report) the module only reads. With O(report=true) in check mode it writes
      nothing and returns the paths the report would have, and C(changed) says whether any
      file would change.
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

- name: The run report of a session, as HTML and the SVG timeline
  fenix.maintenance.maintenance_session_info:
    session_id: chg-1234
    report: true
    report_dir: /var/www/maintenance-reports
    report_formats: [html, svg]
  register: session_report

- name: Where it is
  ansible.builtin.debug:
    msg: "{{ session_report.report.html }}"
"""

RETURN = r"""
sessions:
  description:
    - The sessions, oldest first, each with the keys of
      M(fenix.maintenance.maintenance_session)'s RV(fenix.maintenance.maintenance_session#module:session).
    - Each also has C(moves), every move of an instance off a host in the session - C(move_id),
      C(instance_id), C(project_id), C(action), C(from_host), C(target_host), C(to_host),
      C(state) (C(RUNNING), C(DONE) or C(FAILED)), C(started_at), C(ended_at) and C(error).
    - With O(events=true), each also has C(events), a list of C(event_id),
      C(at), C(kind), C(host), C(project_id), C(instance_id) and C(details).
    - Each has C(summary) - C(hosts_total), C(hosts_maintained), C(hosts_disabled_by_session),
      C(moves) (finished instance actions by action), C(projects) (per project C(replies),
      C(decided_by_policy), C(decided_at_once), C(last_reply), C(median_reply_seconds) and
      C(max_reply_seconds) from each notification to its answer), C(unreachable) (per project
      no transport reached - C(asks), C(states), the last C(why), and C(decided_by) with how many
      of those asks C(policy), C(project) and C(none) decided), C(silent_projects) (the session's
      setting), C(unconstrained_instances) (in a C(vnf) session, per instance without a
      C(migration_type) constraint its C(project_id) and C(decided_by_policy), the states at which
      the silent policy gave its action; empty otherwise), C(total_seconds) from creation to the
      last change.
  returned: always
  type: list
  elements: dict
  sample:
    - session_id: chg-1234
      state: PLANNED_MAINTENANCE
      reason: null
      workflow: default
      silent_projects: ask_again
      maintenance_at: "2026-12-01T02:00:00Z"
      metadata: {release: "2026.2"}
      request: {hosts: [compute1], actions: []}
      hosts:
        - {host: compute1, state: PENDING, disabled_by_session: false, maintained: false, details: {}}
      projects: []
      instances: []
      action_runs: []
      moves: []
      created_at: "2026-11-22T12:00:00.000000Z"
      updated_at: "2026-11-22T12:05:00.000000Z"
report:
  description:
    - The report files by format (C(json), C(markdown), C(html), C(svg)), each an absolute path;
      only the formats of O(report_formats).
    - In check mode, the paths the files would have.
  returned: when O(report=true)
  type: dict
  sample:
    json: /root/.local/state/fenix.maintenance/reports/chg-1234.json
    markdown: /root/.local/state/fenix.maintenance/reports/chg-1234.md
    html: /root/.local/state/fenix.maintenance/reports/chg-1234.html
    svg: /root/.local/state/fenix.maintenance/reports/chg-1234.svg
journal:
  description: The journal, a file path or a PostgreSQL DSN without its password.
  returned: always
  type: str
  sample: /root/.local/state/fenix.maintenance/journal.sqlite
"""

from ansible_collections.fenix.maintenance.plugins.module_utils.base import OpenStackModule
from ansible_collections.fenix.maintenance.plugins.module_utils.report.report import (
    FORMATS,
    report_directory,
    write_report,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.session import session_view


class MaintenanceSessionInfoModule(OpenStackModule):
    argument_spec = dict(
        session_id=dict(),
        events=dict(default=False, type="bool"),
        report=dict(default=False, type="bool"),
        report_dir=dict(type="path"),
        report_formats=dict(type="list", elements="str", choices=list(FORMATS), default=list(FORMATS)),
    )
    module_kwargs = dict(supports_check_mode=True)
    uses_journal = True

    def run(self) -> dict:
        directory = None
        if self.params["report"]:
            if not self.params["session_id"]:
                self.fail_json(msg="session_id: missing; report=true writes the report of one session, name it")
            directory = report_directory(self.journal_location, self.params["report_dir"])
        if not self.journal_exists:
            if self.params["report"]:
                self.fail_json(msg="session_id: no journal at %s, so no session %s to report on; give the journal"
                                   " option the run's journal" % (self.journal_shown, self.params["session_id"]))
            return dict(changed=False, sessions=[], journal=self.journal_shown)
        if self.params["session_id"]:
            found = self.find_session(self.params["session_id"])
            sessions = [found] if found else []
        else:
            sessions = self.journal.sessions()
        result = dict(
            changed=False,
            sessions=[session_view(self.journal, session, self.params["events"]) for session in sessions],
            journal=self.journal.path,
        )
        if self.params["report"]:
            result["report"], result["changed"] = self.write_report(directory, sessions)
        return result

    def write_report(self, directory: str, sessions: list):
        if not sessions:
            self.fail_json(msg="session_id: %s is not in the journal %s; nothing to report on"
                               % (self.params["session_id"], self.journal.path))
        try:
            return write_report(self.journal, sessions[0].session_id, directory,
                                tuple(dict.fromkeys(self.params["report_formats"])), check_mode=self.check_mode)
        except OSError as exc:  # not an engine error: say which option to change
            self.fail_json(msg="report_dir: cannot write the report there (%s); give a directory you may write to" % exc)


def main() -> None:
    module = MaintenanceSessionInfoModule()
    module()


if __name__ == "__main__":
    main()
