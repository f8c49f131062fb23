# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The rules of a project's reply: what may be asked, and which answers fit the ask.

A project asked about a state answers ACK_<state> or NACK_<state>, about the
instances it was asked about, with actions the state allows. These are rules
of the protocol, not of storage, so they live with the replies; the journal
calls them inside the transaction that stores a reply, so a reply is checked
against the ask as it stands when the reply is written.

This module is a leaf: it imports only the vocabulary and the journal's
records (never the journal store, notifier or waiter), which is what lets the
journal, a lower layer, call it. Breaking a rule raises JournalError, the
journal's own error, whose message the API returns as it is.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Set, Tuple

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    InstanceRecord,
    JournalError,
    ProjectRecord,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import (
    ACTION_ALIASES,
    COLD_MIGRATION_SECONDS,
    INSTANCE_ACTIONS,
    LIVE_MIGRATE,
    MIGRATE,
)

ACK = "ACK_"
NACK = "NACK_"


def is_nack_reply(reply: Optional[str]) -> bool:
    return bool(reply) and reply.startswith(NACK)


def check_allowed_actions(allowed_actions: Optional[Iterable[str]]) -> None:
    """An ask may offer only the instance actions of the protocol."""
    unknown = sorted(set(allowed_actions or ()) - set(INSTANCE_ACTIONS))
    if unknown:
        raise JournalError("allowed_actions: %s unknown; use %s" % (", ".join(unknown), ", ".join(INSTANCE_ACTIONS)))


def check_reply(project: ProjectRecord, reply: str) -> None:
    """A reply answers the state the project was asked about."""
    expected = (ACK + project.state, NACK + project.state)
    if reply not in expected:
        raise JournalError("state: %r does not answer %s; send %s or %s"
                           % (reply, project.state, expected[0], expected[1]))


def stored_action(action: Optional[str]) -> Optional[str]:
    """The action kept for an answered one: EVICTION is the project's own action (OWN_ACTION), others as they are.

    The project performs an eviction itself, exactly as it performs an
    OWN_ACTION: the operator waits until the instance has left the host.
    """
    return ACTION_ALIASES.get(action, action) if action is not None else None


def policy_action_for(constraint: Optional[dict], action: Optional[str]) -> Optional[str]:
    """The operator's policy ``action`` for one instance, under its project's constraint (a /v1/instance body).

    The policy never overrides the project's own choice: a migration_type
    stands (EVICTION kept as OWN_ACTION). A cold migration, which stops the
    instance for about COLD_MIGRATION_SECONDS, is not chosen for an instance
    whose max_interruption_time is shorter: it is live-migrated instead.
    """
    if action is None or not constraint:
        return action
    if constraint.get("migration_type"):
        return stored_action(constraint["migration_type"])
    limit = constraint.get("max_interruption_time")
    if action == MIGRATE and limit is not None and float(limit) < COLD_MIGRATION_SECONDS:
        return LIVE_MIGRATE
    return action


def check_action(project: ProjectRecord, action: str) -> None:
    """An instance action is one the ask allowed (EVICTION where OWN_ACTION is)."""
    if stored_action(action) not in project.allowed_actions:
        allowed = ", ".join(project.allowed_actions) or "none"
        raise JournalError("instance action %r is not allowed in state %s; allowed: %s"
                           % (action, project.state, allowed))


def asked_instances(project: ProjectRecord, instances: Iterable[InstanceRecord]) -> Set[str]:
    """The instances the project was asked about: those named in the ask, else all of ``instances``.

    ``instances`` are the project's instances in the session.
    """
    if project.instance_ids:
        return set(project.instance_ids)
    return {record.instance_id for record in instances}


def check_project_reply(project: ProjectRecord, reply: str, instance_actions: Dict[str, str],
                        asked: Set[str]) -> None:
    """A whole project's reply: the right state, asked instances only, allowed actions only."""
    check_reply(project, reply)
    unknown = sorted(set(instance_actions) - asked)
    if unknown:
        raise JournalError("instance_actions: %s not instances of project %s in this session"
                           % (", ".join(unknown), project.project_id))
    for action in instance_actions.values():
        check_action(project, action)


def check_instance_reply(project: ProjectRecord, instance_id: str, reply: str, action: Optional[str],
                         asked: Set[str]) -> None:
    """One instance's reply: the right state, an asked instance, an allowed action (if any)."""
    check_reply(project, reply)
    if instance_id not in asked:
        raise JournalError("instance %s is not an instance of project %s in this session"
                           % (instance_id, project.project_id))
    if action is not None:
        check_action(project, action)


def answered_instances(asked: Set[str], instances: Iterable[InstanceRecord]) -> Dict[str, InstanceRecord]:
    """The asked instances that have answered the current ask (an ask clears the instances' replies)."""
    return {record.instance_id: record for record in instances
            if record.instance_id in asked and record.reply is not None}


def project_answer(project: ProjectRecord, asked: Set[str],
                   instances: List[InstanceRecord]) -> Optional[Tuple[str, Dict[str, str]]]:
    """The project's reply and instance actions once every asked instance has answered, else None.

    NACK if any instance said NACK, else ACK with every instance's action
    (none in a state that offers no actions).
    """
    replies = answered_instances(asked, instances)
    if not asked <= set(replies):
        return None
    nack = any(is_nack_reply(record.reply) for record in replies.values())
    actions = {}
    if project.allowed_actions:
        actions = {iid: replies[iid].action for iid in sorted(asked) if replies[iid].action}
    return (NACK if nack else ACK) + project.state, actions


def policy_answer(project: ProjectRecord, action: Optional[str], asked: Set[str],
                  instances: Iterable[InstanceRecord] = (),
                  constraints: Optional[Dict[str, dict]] = None) -> Tuple[str, Dict[str, str]]:
    """The answer given for a silent project: the policy's ``action`` for each asked instance that has not answered.

    Instances that answered on their own URL (``instances``, the project's
    instance records) keep their answer: their actions stand, and a NACK of
    one of them makes the answer a NACK, as it would have once all had answered.
    ``constraints`` (instance id: its /v1/instance body) bend the policy's
    action per instance (policy_action_for).
    """
    constraints = constraints or {}
    replies = answered_instances(asked, instances)
    if action is not None and project.allowed_actions:
        check_action(project, action)
    nack = any(is_nack_reply(record.reply) for record in replies.values())
    actions = {}
    if project.allowed_actions:
        actions = {iid: replies[iid].action for iid in sorted(replies) if replies[iid].action}
        if action is not None:
            actions.update({iid: policy_action_for(constraints.get(iid), action) for iid in sorted(asked - set(replies))})
    return (NACK if nack else ACK) + project.state, dict(sorted(actions.items()))
