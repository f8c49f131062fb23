# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The words of the Fenix protocol and of this collection, each written once.

Session states, the states projects and the admin are told about, the actions
an instance can be given, the types of upgrade plugins and the defaults that
several parts share (the API's port). Every other module imports them from here.
"""

from __future__ import annotations

# The Fenix session states, in the order a session goes through them.
MAINTENANCE = "MAINTENANCE"
SCALE_IN = "SCALE_IN"
PREPARE_MAINTENANCE = "PREPARE_MAINTENANCE"
START_MAINTENANCE = "START_MAINTENANCE"
PLANNED_MAINTENANCE = "PLANNED_MAINTENANCE"
MAINTENANCE_COMPLETE = "MAINTENANCE_COMPLETE"
MAINTENANCE_DONE = "MAINTENANCE_DONE"
MAINTENANCE_FAILED = "MAINTENANCE_FAILED"
SESSION_STATES = (
    MAINTENANCE,
    SCALE_IN,
    PREPARE_MAINTENANCE,
    START_MAINTENANCE,
    PLANNED_MAINTENANCE,
    MAINTENANCE_COMPLETE,
    MAINTENANCE_DONE,
    MAINTENANCE_FAILED,
)

# What a project is told; INSTANCE_ACTION_DONE follows each admin action on one of its instances.
INSTANCE_ACTION_DONE = "INSTANCE_ACTION_DONE"
PROJECT_STATES = (MAINTENANCE, SCALE_IN, PREPARE_MAINTENANCE, PLANNED_MAINTENANCE,
                  MAINTENANCE_COMPLETE, INSTANCE_ACTION_DONE)
# The states a project answers (ACK_<state> or NACK_<state>): all but INSTANCE_ACTION_DONE, which asks nothing.
ANSWERABLE_STATES = tuple(state for state in PROJECT_STATES if state != INSTANCE_ACTION_DONE)
# The states in which a project answers with an action for each of its instances.
STATES_WITH_ACTIONS = (PREPARE_MAINTENANCE, PLANNED_MAINTENANCE)
# What the admin (monitoring) is told about a host.
IN_MAINTENANCE = "IN_MAINTENANCE"
HOST_STATES = (IN_MAINTENANCE, MAINTENANCE_COMPLETE)
# The journal's progress state of a host whose maintenance is done (a resumed run skips it).
HOST_MAINTAINED = "MAINTAINED"

# What may be done with an instance: moved by the admin (live or cold), or by its project itself.
LIVE_MIGRATE = "LIVE_MIGRATE"
MIGRATE = "MIGRATE"
OWN_ACTION = "OWN_ACTION"
INSTANCE_ACTIONS = (MIGRATE, LIVE_MIGRATE, OWN_ACTION)
ADMIN_ACTIONS = (LIVE_MIGRATE, MIGRATE)
# ETSI FEAT03's migration type for an instance its VNF removes (evicts) itself. Accepted in replies and
# constraints, never offered in allowed_actions: the project performs it, so it is stored as OWN_ACTION.
EVICTION = "EVICTION"
ACTION_ALIASES = {EVICTION: OWN_ACTION}
ANSWERED_ACTIONS = INSTANCE_ACTIONS + tuple(ACTION_ALIASES)  # what a reply or a migration_type may say
# The planned duration of a cold migration (the plan's estimate unless the operator gives another): the
# interruption an instance's max_interruption_time is compared with before a policy chooses a cold move for it.
COLD_MIGRATION_SECONDS = 20.0

# The session's workflow: how projects are asked. ``default`` asks each project once per state;
# ``vnf`` (Fenix's VNF workflow) asks PREPARE/PLANNED_MAINTENANCE per instance, each answered on its own URL.
DEFAULT_WORKFLOW = "default"
VNF_WORKFLOW = "vnf"
WORKFLOWS = (DEFAULT_WORKFLOW, VNF_WORKFLOW)

# What later asks do about a project for which the silent policy decided (it did not answer, or could
# not be reached): ask it again and wait (the default), or let the policy decide for it at once.
ASK_AGAIN = "ask_again"
DECIDE_AT_ONCE = "decide_at_once"
SILENT_PROJECTS = (ASK_AGAIN, DECIDE_AT_ONCE)

# Where the upgrade plugins of a session run, in the order a batch runs them. ``check`` plugins are site checks:
# they run on the host once its built-in health checks pass, before it is enabled again.
PLUGIN_TYPES = ("pre", "host", "compute", "check", "controller", "post")

# Fenix's port, which VNFM configurations already name.
DEFAULT_API_PORT = 12347
DEFAULT_API_BIND = "127.0.0.1:%d" % DEFAULT_API_PORT
# The start of the line the API service writes to its log when its configuration stops it from starting.
API_START_FAILURE_MARK = "fenix-api cannot start: "
