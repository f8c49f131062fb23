#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

# This is a doc stub: the action plugin plugins/action/upgrade_plugins.py does the work.

from __future__ import annotations

DOCUMENTATION = r"""
module: upgrade_plugins
short_description: Run a maintenance session's upgrade plugins of one type, recording each run
version_added: 0.1.0
author: fenix.maintenance developers (@fenix-maintenance)
description:
  - Runs the upgrade plugins of the session's C(actions) (the Fenix create body's
    C([{plugin, type, metadata}])) of one O(type), in alphabetical order of the plugin
    name within the type (as Fenix does), passing each its C(metadata).
  - Records the start, end and result of each run in the session journal. A plugin that
    already ran to the end (C(DONE)) for this session, type and host is skipped unless
    O(rerun=true), so a resumed session does not redo finished work.
  - The first plugin that fails stops the type; the ones after it do not run, and the task
    fails with the plugin's error (so Ansible stops the host; for C(pre) and C(post) the
    session's play fails).
  - Every plugin of the type is found and its metadata checked before the first one runs;
    an unknown plugin fails the task naming every place searched.
  - Plugins named C(NAME) are this collection's (C(dummy), C(command), C(reboot),
    C(package_upgrade)) or files C(NAME.py) in O(plugin_dirs); C(NAMESPACE.COLLECTION.NAME)
    is C(plugins/sub_plugins/upgrade/NAME.py) of that collection. See
    C(docs/upgrade_plugins.md) for writing one.
  - The journal is read and written on the controller; the plugins act on the task's host
    through its connection, so C(host), C(compute), C(check) and C(controller) actions run on the
    host itself, while C(pre) and C(post) actions belong in a play on the controller (localhost).
options:
  session_id:
    description:
      - The maintenance session whose actions run, as created by M(fenix.maintenance.maintenance_session).
    type: str
    required: true
  type:
    description:
      - Which actions run. V(pre) and V(post) run once per session (before the first host and after
        the last); V(host) runs for every host, V(compute) and V(controller) for hosts of that kind.
      - The role C(fenix.maintenance.rolling_maintenance) runs V(controller) actions on each host of the inventory
        group its C(rolling_maintenance_controller_group) names, one host at a time, before the compute hosts.
      - V(check) actions are site checks of a host (the new package version is installed, a service
        of yours answers). The role runs them on the host after its upgrade plugins and after
        M(fenix.maintenance.compute_host_health) passed, before enabling it; one that fails keeps
        the host disabled and fails the session with its message.
    type: str
    required: true
    choices: [pre, host, compute, check, controller, post]
  host:
    description:
      - The host the plugins run for, recorded in the journal, as Nova names it.
      - Defaults to C(inventory_hostname) for O(type=host), O(type=compute), O(type=check) and
        O(type=controller), and to none for O(type=pre) and O(type=post).
      - For O(type=host), O(type=compute) and O(type=check) it must be one of the session's hosts. For
        O(type=controller) it is not checked, since controller hosts are not hosts of the session.
    type: str
  plugin_dirs:
    description:
      - Directories with your own upgrade plugins, searched in order for C(NAME.py) when a plain
        plugin name is not one of this collection's. Relative paths are relative to the playbook.
    type: list
    elements: path
    default: []
  rerun:
    description:
      - Run plugins again even when the journal has them C(DONE) for this session, type and host.
    type: bool
    default: false
  actions:
    description:
      - Run these actions instead of the session's. Same form as the session's C(actions);
        C(type) may be left out and then is O(type). Actions of other types are ignored.
    type: list
    elements: dict
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.conn
  - fenix.maintenance.openstack
  - fenix.maintenance.journal
  - fenix.maintenance.openstack.SESSION_ATTRIBUTES
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  become:
    support: full
    details: Modules the plugins run on the host run with the task's C(become).
  connection:
    support: full
  delegation:
    support: full
    details: The journal host stays O(host) (C(inventory_hostname) by default) while the plugins run on the delegated host.
  check_mode:
    support: full
    details: The plugins run in check mode (each decides what that means; C(reboot) does nothing) and the journal is not written.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The connection options are accepted so that C(module_defaults) of the action group apply,
    but they are not used.
  - The session's actions come from the journal and are not templated.
  - A plugin interrupted while running (the controller died) stays C(RUNNING) in the journal and
    runs again on the next run; plugins should be safe to run twice.
seealso:
  - module: fenix.maintenance.maintenance_session
  - module: fenix.maintenance.maintenance_session_info
"""

EXAMPLES = r"""
- name: Pre actions, once, on the controller
  hosts: localhost
  tasks:
    - name: Run the session's pre actions
      fenix.maintenance.upgrade_plugins:
        session_id: chg-1234
        type: pre

- name: Each compute host in turn
  hosts: maintenance_batch
  serial: 1
  tasks:
    - name: Run the session's host actions on the host itself
      fenix.maintenance.upgrade_plugins:
        session_id: chg-1234
        type: host
        plugin_dirs:
          - plugins/upgrade

- name: Upgrade packages and reboot, whatever the session says
  hosts: maintenance_batch
  serial: 1
  tasks:
    - name: Run these compute actions instead of the session's
      fenix.maintenance.upgrade_plugins:
        session_id: chg-1234
        type: compute
        actions:
          - plugin: package_upgrade
            metadata: {names: "*", update_cache: true}
          - plugin: reboot
            metadata: {reboot_timeout: 900}

- name: Post actions, once, on the controller
  hosts: localhost
  tasks:
    - name: A plugin from another collection
      fenix.maintenance.upgrade_plugins:
        session_id: chg-1234
        type: post
        actions:
          - plugin: example.ops.notify_cmdb
            metadata: {change: CHG-1234}
"""

RETURN = r"""
runs:
  description:
    - One entry per plugin of the type that ran or was skipped, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    plugin:
      description: The plugin's name as the action gave it.
      type: str
    type:
      description: The action type.
      type: str
    host:
      description: The host it ran for; null for C(pre) and C(post).
      type: str
    state:
      description: C(DONE), C(FAILED), or C(SKIPPED) (done in an earlier run; its result is that run's).
      type: str
    started_at:
      description: When it started (UTC, ISO 8601).
      type: str
    ended_at:
      description: When it ended (UTC, ISO 8601).
      type: str
    result:
      description: What the plugin returned (C(changed), C(msg), ...), or its error as C(msg) with details.
      type: dict
    run_id:
      description: The run's ID in the journal; null in check mode.
      type: int
  sample:
    - plugin: command
      type: host
      host: compute1
      state: DONE
      started_at: "2026-11-22T12:00:00.000000Z"
      ended_at: "2026-11-22T12:00:01.500000Z"
      result: {changed: true, msg: "ran /usr/local/sbin/prepare-upgrade", cmd: /usr/local/sbin/prepare-upgrade, rc: 0}
      run_id: 7
not_run:
  description: Plugins of the type left out because an earlier one failed.
  returned: always
  type: list
  elements: str
  sample: [package_upgrade, reboot]
failed_plugin:
  description: The plugin that failed.
  returned: failure of a plugin
  type: str
  sample: command
session_id:
  description: The session.
  returned: when the session was found
  type: str
  sample: chg-1234
type:
  description: The action type run.
  returned: when the session was found
  type: str
  sample: host
host:
  description: The host the plugins ran for; null for C(pre) and C(post).
  returned: when the session was found
  type: str
  sample: compute1
journal:
  description: The journal, a file path or a PostgreSQL DSN without its password.
  returned: when the session was found
  type: str
  sample: /root/.local/state/fenix.maintenance/journal.sqlite
"""
