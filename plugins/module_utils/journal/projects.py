# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The journal's projects: what each project was asked, and its reply.

A project recorded as notified is one whose reply is awaited. Whether a reply
fits the ask is a rule of the protocol, kept in notify/reply_rules.py (a leaf
module that imports only the vocabulary and the journal's records); this part
calls those rules inside the transaction that stores the reply, so the ask
checked is the ask stored, and stores what they accept.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.core import JournalCore
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import (
    ConstraintNotFound,
    JournalError,
    ProjectNotFound,
    ProjectRecord,
    dump_json,
    dump_json_list,
    record_from_row,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.notify import reply_rules


class ProjectsMixin(JournalCore):
    """The projects table and the instances' replies (part of Journal, which supplies ``session``,
    ``instances``, ``set_instance``, ``constraints`` and ``_event``)."""

    def notify_project(
        self,
        session_id: str,
        project_id: str,
        state: str,
        instance_ids: Optional[List[str]] = None,
        allowed_actions: Optional[List[str]] = None,
        actions_at: Optional[str] = None,
        reply_at: Optional[str] = None,
    ) -> ProjectRecord:
        """Record that the project was asked about ``state``; earlier replies no longer count."""
        reply_rules.check_allowed_actions(allowed_actions)
        with self.transaction():
            self.session(session_id)
            row = self._run("SELECT state, notify_count FROM projects WHERE session_id = ? AND project_id = ?",
                            (session_id, project_id)).fetchone()
            count = row["notify_count"] + 1 if row and row["state"] == state else 1
            self._run(
                "INSERT INTO projects (session_id, project_id, state, notified_at, notify_count, instance_ids,"
                " allowed_actions, actions_at, reply_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (session_id, project_id) DO UPDATE SET state = excluded.state, reply = NULL,"
                " instance_actions = '{}', notified_at = excluded.notified_at, notify_count = excluded.notify_count,"
                " replied_at = NULL, instance_ids = excluded.instance_ids,"
                " allowed_actions = excluded.allowed_actions, actions_at = excluded.actions_at,"
                " reply_at = excluded.reply_at",
                (session_id, project_id, state, self.clock(), count, dump_json_list(instance_ids),
                 dump_json_list(allowed_actions), actions_at, reply_at),
            )
            self._run("UPDATE instances SET reply = NULL WHERE session_id = ? AND project_id = ?",
                      (session_id, project_id))
            self._event(session_id, "project.notified", project_id=project_id,
                        details={"state": state, "count": count, "instances": len(instance_ids or ())})
        return self.project(session_id, project_id)

    def record_reply(self, session_id: str, project_id: str, reply: str,
                     instance_actions: Optional[Dict[str, str]] = None) -> ProjectRecord:
        """Store a project's ACK_/NACK_ answer to the state it was asked about."""
        instance_actions = instance_actions or {}
        with self.transaction():
            project = self.project(session_id, project_id)
            reply_rules.check_project_reply(project, reply, instance_actions, self._asked(session_id, project))
            self._store_reply(session_id, project_id, reply,
                              {iid: reply_rules.stored_action(action) for iid, action in instance_actions.items()})
        return self.project(session_id, project_id)

    def record_instance_reply(self, session_id: str, project_id: str, instance_id: str, reply: str,
                              action: Optional[str] = None) -> ProjectRecord:
        """Store one instance's answer; the project has answered once all its asked instances have.

        In a state that offers actions, an answer without an action takes the
        instance's ``migration_type`` constraint (PUT /v1/instance/{id}), as
        Fenix's VNF workflow does; EVICTION is stored as OWN_ACTION. The
        project's answer is then NACK if any instance said NACK, else ACK with
        every instance's action.
        """
        with self.transaction():
            project = self.project(session_id, project_id)
            asked = self._asked(session_id, project)
            reply_rules.check_instance_reply(project, instance_id, reply, action, asked)
            given = action
            if given is None and project.allowed_actions and not reply_rules.is_nack_reply(reply):
                action = self._migration_type(project, instance_id)
            stored = reply_rules.stored_action(action)
            details = {"reply": reply, "action": stored}
            if given is None and stored is not None:
                details["from_constraint"] = True
            if action != stored:
                details["given"] = action  # EVICTION, kept as OWN_ACTION
            self.set_instance(session_id, instance_id, project_id)
            self._run("UPDATE instances SET reply = ? WHERE session_id = ? AND instance_id = ?",
                      (reply, session_id, instance_id))
            if project.allowed_actions:
                # The action is this answer's: none given (and no constraint) clears an earlier ask's.
                self._run("UPDATE instances SET action = ? WHERE session_id = ? AND instance_id = ?",
                          (stored, session_id, instance_id))
            self._event(session_id, "instance.reply", project_id=project_id, instance_id=instance_id,
                        details=details)
            answer = reply_rules.project_answer(project, asked, self.instances(session_id, project_id))
            if answer is not None:
                self._store_reply(session_id, project_id, *answer)
        return self.project(session_id, project_id)

    def _migration_type(self, project: ProjectRecord, instance_id: str) -> Optional[str]:
        """The instance's migration_type constraint, if its project set one; it must be an action the ask allows."""
        try:
            constraint = self.constraint("instance", instance_id)
        except ConstraintNotFound:
            return None
        migration_type = constraint.get("migration_type")
        if migration_type is None or constraint.get("project_id") not in (None, project.project_id):
            return None
        try:
            reply_rules.check_action(project, migration_type)
        except JournalError as exc:
            raise JournalError("instance_action: none given, so the instance's migration_type counts, and %s;"
                               " send instance_action" % exc) from exc
        return migration_type

    def renotify_project(self, session_id: str, project_id: str, reply_at: Optional[str]) -> Optional[ProjectRecord]:
        """Count one more notification of the same ask to a silent project; None if it has answered meanwhile.

        Unlike notify_project this never clears a reply, so a reply that lands
        just before the reminder is kept.
        """
        with self.transaction():
            self.project(session_id, project_id)
            updated = self._run(
                "UPDATE projects SET notify_count = notify_count + 1, reply_at = ?"
                " WHERE session_id = ? AND project_id = ? AND reply IS NULL",
                (reply_at, session_id, project_id),
            ).rowcount
            if not updated:
                return None
            project = self.project(session_id, project_id)
            self._event(session_id, "project.notified", project_id=project_id,
                        details={"state": project.state, "count": project.notify_count, "reminder": True})
        return project

    def record_policy_reply(self, session_id: str, project_id: str, action: Optional[str],
                            policy: str, at_once: bool = False) -> Optional[ProjectRecord]:
        """Answer on behalf of a silent project, as the operator's ``policy`` says; None if it has answered meanwhile.

        Every asked instance that has not answered on its own URL gets
        ``action`` when the state offers actions; those that answered keep
        their answer (a NACK among them makes it a NACK). The
        event log says the operator's policy decided, not the project, and
        ``at_once`` when it decided without waiting (the project was silent before).
        """
        with self.transaction():
            project = self.project(session_id, project_id)
            asked = self._asked(session_id, project)
            instances = self.instances(session_id, project_id)
            reply, actions = reply_rules.policy_answer(project, action, asked, instances,
                                                       self._instance_constraints(asked))
            updated = self._run(
                "UPDATE projects SET reply = ?, instance_actions = ?, replied_at = ?"
                " WHERE session_id = ? AND project_id = ? AND reply IS NULL",
                (reply, dump_json(actions), self.clock(), session_id, project_id),
            ).rowcount
            if not updated:
                return None
            details = {"reply": reply, "instance_actions": actions, "decided_by": "policy", "policy": policy}
            answered = reply_rules.answered_instances(asked, instances)
            if answered:  # some instances had answered on their own URL: the policy decided for the others
                details["decided_instances"] = sorted(asked - set(answered))
            if at_once:
                details["at_once"] = True
            self._event(session_id, "project.reply", project_id=project_id, details=details)
        return self.project(session_id, project_id)

    def record_policy_actions(self, session_id: str, project_id: str, action: str, instance_ids: List[str],
                              policy: str) -> Optional[ProjectRecord]:
        """Give ``action`` to instances the project's ACK left without one, as the operator's ``policy`` says.

        For a vnf session, whose instances without a migration_type constraint
        have no action to take when their answer names none. The project's
        answer stays its own; only those instances' actions are the policy's.
        None when there is nothing to decide (no ACK, or every one has an action).
        """
        with self.transaction():
            project = self.project(session_id, project_id)
            if project.reply is None or reply_rules.is_nack_reply(project.reply) or not project.allowed_actions:
                return None
            reply_rules.check_action(project, action)
            asked = self._asked(session_id, project)
            missing = sorted(iid for iid in instance_ids if iid in asked and iid not in project.instance_actions)
            if not missing:
                return None
            constraints = self._instance_constraints(missing)
            decided = {iid: reply_rules.policy_action_for(constraints.get(iid), action) for iid in missing}
            actions = dict(project.instance_actions, **decided)
            self._run("UPDATE projects SET instance_actions = ? WHERE session_id = ? AND project_id = ?",
                      (dump_json(dict(sorted(actions.items()))), session_id, project_id))
            for instance_id in missing:
                self._run("UPDATE instances SET action = ? WHERE session_id = ? AND instance_id = ?",
                          (decided[instance_id], session_id, instance_id))
            self._event(session_id, "project.policy_actions", project_id=project_id,
                        details={"state": project.state, "action": action, "instances": missing, "policy": policy,
                                 "decided_by": "policy", "instance_actions": decided})
        return self.project(session_id, project_id)

    def project(self, session_id: str, project_id: str) -> ProjectRecord:
        self.session(session_id)
        row = self._run("SELECT * FROM projects WHERE session_id = ? AND project_id = ?",
                        (session_id, project_id)).fetchone()
        if row is None:
            raise ProjectNotFound("project %s is not part of session %s" % (project_id, session_id))
        return record_from_row(ProjectRecord, row)

    def projects(self, session_id: str) -> List[ProjectRecord]:
        self.session(session_id)
        rows = self._run("SELECT * FROM projects WHERE session_id = ? ORDER BY project_id",
                         (session_id,)).fetchall()
        return [record_from_row(ProjectRecord, row) for row in rows]

    def _instance_constraints(self, instance_ids: Iterable[str]) -> Dict[str, dict]:
        """The /v1/instance constraints of these instances, by instance id (those without one left out)."""
        wanted = set(instance_ids)
        return {body["instance_id"]: body for body in self.constraints("instance") if body["instance_id"] in wanted}

    def _asked(self, session_id: str, project: ProjectRecord) -> set:
        return reply_rules.asked_instances(project, self.instances(session_id, project.project_id))

    def _store_reply(self, session_id: str, project_id: str, reply: str, instance_actions: Dict[str, str]) -> None:
        self._run(
            "UPDATE projects SET reply = ?, instance_actions = ?, replied_at = ?"
            " WHERE session_id = ? AND project_id = ?",
            (reply, dump_json(instance_actions), self.clock(), session_id, project_id),
        )
        self._event(session_id, "project.reply", project_id=project_id,
                    details={"reply": reply, "instance_actions": instance_actions})
