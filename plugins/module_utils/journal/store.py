# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The maintenance session journal: what a session is doing, written before it is done.

It holds sessions, their hosts, the projects asked and their replies, the
affected instances, upgrade plugin runs, moves of instances, constraints,
the lease of the run that holds each session, and a time-stamped event log.

Every change of state is committed before the action it announces, so that a
run killed at any point can be resumed from the journal: a host recorded as
disabled by the session is one the session must re-enable; a project recorded
as notified is one whose reply is awaited.

Embedded use keeps the journal in one SQLite file (WAL mode, so the API
service and a playbook run can share it); shared use (AWX with several
execution nodes, an API service on another host) gives a PostgreSQL DSN
instead, which needs psycopg 3. The same SQL serves both. The schema is
versioned; a journal written by a newer release is refused rather than misread.

``Journal`` is composed of one mixin per table family, each in its own module
of this package, over one core (core.py: the connection, thread-safe
transactions, the schema migration):

    sessions.py     sessions              hosts.py        hosts of a session
    projects.py     projects and replies  instances.py    affected instances
    action_runs.py  upgrade plugin runs   moves.py        moves of instances
    constraints.py  instance (group) constraints, kept across sessions
    leases.py       one run per session: the lease its run holds and renews
    events.py       the event log every part writes to

The parts call each other through the composed class (most check the session
with ``session`` and log with ``_event``); the rules of a reply are in
notify/reply_rules.py.
"""

from __future__ import annotations

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.action_runs import ActionRunsMixin
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.constraints import ConstraintsMixin
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.events import EventsMixin
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.hosts import HostsMixin
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.instances import InstancesMixin
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.leases import LeasesMixin
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.moves import MovesMixin
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.projects import ProjectsMixin
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.sessions import SessionsMixin


class Journal(SessionsMixin, HostsMixin, ProjectsMixin, InstancesMixin, ActionRunsMixin, MovesMixin,
              ConstraintsMixin, LeasesMixin, EventsMixin):
    """One journal (a SQLite file or a PostgreSQL database); every public method commits before it returns."""
