# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""What the VNFM does with each notification: the steps of protocol.py, run with the API and the cloud."""

from __future__ import annotations

import collections
import dataclasses
import functools
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional

from .client import ApiError, MaintenanceApi
from .cloud import Cloud
from .eventlog import EventLog
from .protocol import (
    INSTANCE_ACTION_DONE,
    STATES_WITH_ACTIONS,
    ConstraintOptions,
    Decision,
    Notification,
    NotificationError,
    PolicyBook,
    all_active,
    all_settled,
    constraint_requests,
    decide,
    decode_trait_value,
    is_past,
    listed_instance_ids,
    parse_notification,
    reason_not_for_us,
    reply_requests,
    vnf_group_requests,
    vnf_instance,
    vnf_reply_requests,
)


class Vnfm:
    """Turns notifications into answers. Transport-independent: the webhook and the bus both call handle_body()."""

    def __init__(self, project_id: str, policies: PolicyBook, api: MaintenanceApi, cloud: Cloud, log: EventLog,
                 per_instance: bool = False, check_timeout: float = 60.0, check_interval: float = 2.0,
                 stop: Optional[threading.Event] = None, scale_in_delete: int = 0, keep: Optional[List[str]] = None,
                 workflow: str = "default") -> None:
        self.project_id = project_id
        self.workflow = workflow  # "vnf": PREPARE/PLANNED ask about one instance each (protocol.vnf_instance)
        self.migration_types: Dict[str, Optional[str]] = {}  # instance -> the migration_type we set for it
        self.policies = policies
        self.api = api
        self.cloud = cloud
        self.log = log
        self.per_instance = per_instance
        self.check_timeout = check_timeout
        self.check_interval = check_interval
        self.stop = stop or threading.Event()
        self.scale_in_delete = scale_in_delete
        self.pending_constraints: Optional[Callable[[], None]] = None  # set them before the next answer
        self.constraints_lock = threading.Lock()
        self.keep = keep or []  # servers scaling in must not remove (the group members the constraints are about)
        self.seen: collections.deque = collections.deque(maxlen=1000)
        self.seen_lock = threading.Lock()

    # entry point
    def handle_body(self, body: Any, transport: str) -> Optional[Notification]:
        """Parse and handle one received body; a body that is no notification is logged and dropped."""
        try:
            notification = parse_notification(body)
        except NotificationError as exc:
            self.log.write("error", transport=transport, error="not a notification: %s" % exc)
            return None
        self.handle(notification, transport)
        return notification

    def handle(self, notification: Notification, transport: str) -> None:
        payload = notification.payload
        context = {"message_id": notification.message_id, "session_id": payload.get("session_id"),
                   "state": payload.get("state"), "project_id": notification.project_id}
        self.log.write("received", transport=transport, shape=notification.shape,
                       event_type=notification.event_type, payload=payload, **context)
        reason = self.reason_to_ignore(notification)
        if reason:
            self.log.write("ignored", reason=reason, **context)
            return
        try:
            self.ensure_constraints()
            if notification.state == INSTANCE_ACTION_DONE:
                self.check_active(self.listed_instances(payload), context)
            else:
                self.answer(payload, context)
        except Exception as exc:  # pylint: disable=broad-except
            # One bad notification must not take the VNFM down; the log says what happened.
            self.log.write("error", error="%s: %s" % (type(exc).__name__, exc), **context)

    def reason_to_ignore(self, notification: Notification) -> Optional[str]:
        reason = reason_not_for_us(notification, self.project_id)
        if reason:
            return reason
        with self.seen_lock:
            if notification.message_id in self.seen:
                return "duplicate of message %s (two alarms, or bus and webhook)" % notification.message_id
            self.seen.append(notification.message_id)
        return None

    # what is asked
    def listed_instances(self, payload: Dict[str, Any]) -> List[str]:
        """The instances the notification is about: listed in it, or read from its URL with our token."""
        url, listed = listed_instance_ids(payload)
        return listed if url is None else self.api.get_instance_ids(url)

    def answer(self, payload: Dict[str, Any], context: Dict[str, Any]) -> None:
        state = payload.get("state") or ""
        per_instance_ask = self.workflow == "vnf" and state in STATES_WITH_ACTIONS
        # The vnf workflow asks about instance_ids[0] alone; other questions list the project's instances at a URL.
        instances = [vnf_instance(payload)] if per_instance_ask else self.listed_instances(payload)
        self.log.write("instances", instance_ids=instances, **context)
        policy = self.policies.for_state(state)
        decision = decide(policy, state, decode_trait_value(payload.get("allowed_actions")) or [])
        if per_instance_ask:
            decision = self.with_migration_type(decision, instances[0])
        self.log.write("decided", policy=policy.describe(), reply=decision.reply, action=decision.action,
                       delay=decision.delay, note=decision.note, **context)
        if state == "MAINTENANCE_COMPLETE":
            # The operator is done: scale back out if we scaled in, and make sure all is well.
            self.check_active(self.cloud.my_server_ids(), context)
        if decision.reply is None:
            return
        if decision.action in ("OWN_ACTION", "EVICTION"):
            self.own_action(instances, context)
        if state == "SCALE_IN" and decision.reply.startswith("ACK_") and self.scale_in_delete:
            # Free capacity before saying so: the operator plans again right after our ACK.
            deleted = self.cloud.delete_servers(self.scale_in_delete, self.keep)
            self.scale_in_delete = 0
            self.log.write("scaled_in", deleted=deleted, **context)
        if decision.delay and self.stop.wait(decision.delay):
            self.log.write("dropped", reason="stopping before the late answer was due", **context)
            return
        late = is_past(payload.get("reply_at"), datetime.now(timezone.utc))
        requests = (vnf_reply_requests(payload, decision, instances[0]) if per_instance_ask
                    else reply_requests(payload, decision, instances, self.per_instance))
        for request in requests:
            where = context if request.instance_id is None else dict(context, instance_id=request.instance_id)
            self.send(request.url, request.body, where, late)

    def with_migration_type(self, decision: Decision, instance_id: str) -> Decision:
        """vnf workflow: an ACK names the instance's migration_type, as set in its constraints (Doctor's VNFM does)."""
        migration_type = self.migration_types.get(instance_id)
        if decision.action is None or not migration_type or migration_type == decision.action:
            return decision
        return dataclasses.replace(decision, action=migration_type,
                                   note="%s; instance_action %s, its migration_type" % (decision.note, migration_type))

    def send(self, url: str, body: Dict[str, Any], context: Dict[str, Any], late: bool) -> None:
        result = self.api.put(url, body)
        if result["error"]:
            self.log.write("reply_failed", url=url, body=body, status=result["status"], attempts=result["attempts"],
                           error=result["error"], **context)
        else:
            self.log.write("replied", url=url, body=body, status=result["status"], attempts=result["attempts"],
                           after_reply_at=late, **context)

    def own_action(self, instances: List[str], context: Dict[str, Any]) -> None:
        """OWN_ACTION means: the VNF moves its service away itself (switch-over, re-instantiation).

        A real VNFM would, say, make the standby of each listed instance
        active before it ACKs. The reference VNFM changes nothing in the cloud;
        it records what it would do, so tests and demos can see the step.
        """
        self.log.write("own_action", instance_ids=instances,
                       done="switched the service away from these instances (recorded only; nothing changed)",
                       **context)

    def check_active(self, server_ids: List[str], context: Dict[str, Any]) -> bool:
        """Wait (bounded) until the servers rest in a status, then log whether they are all ACTIVE."""
        deadline = time.monotonic() + self.check_timeout
        while True:
            statuses = self.cloud.statuses(server_ids)
            if all_settled(statuses) or time.monotonic() >= deadline or self.stop.wait(self.check_interval):
                break
        active = all_active(statuses)
        self.log.write("checked", all_active=active, statuses=statuses, **context)
        return active

    # constraints
    def set_constraints_when_possible(self, api_url: str, group_name: str, options: ConstraintOptions) -> None:
        """Set the constraints now or, when the API does not answer yet, before the first answer.

        One attempt now, without the client's retries: the API may well not run yet, and the webhook starts
        listening only after this (30 s of backoff kept the VNFM from answering its readiness probe).
        """
        try:
            self.set_constraints(api_url, group_name, options, retries=0)
        except ApiError as exc:
            # The API may start after the VNFM (an operator's run starts it); try again before the first answer.
            self.log.write("constraints_deferred", error=str(exc))
            self.pending_constraints = functools.partial(self.set_constraints, api_url, group_name, options)

    def ensure_constraints(self) -> None:
        """Constraints not yet accepted are set before anything is answered: the operator plans with them."""
        with self.constraints_lock:
            if self.pending_constraints is not None:
                self.pending_constraints()
                self.pending_constraints = None

    def set_constraints(self, api_url: str, group_name: str, options: ConstraintOptions,
                        retries: Optional[int] = None) -> None:
        """Tell the API about our server group and each member, once at start (and again after a scale-out).

        ``retries``: of each request (None: the client's).
        """
        group = self.cloud.server_group(group_name)
        migration_type = self.policies.for_state("PLANNED_MAINTENANCE").action
        requests = constraint_requests(api_url, group, self.project_id, migration_type, options)
        if options.vnf_group:
            requests += vnf_group_requests(api_url, group, self.cloud.my_server_ids(), self.project_id,
                                           migration_type, options)
        for url, body in requests:
            result = self.api.put(url, body, retries)
            if result["error"]:
                raise ApiError("PUT %s failed: %s" % (url, result["error"]))
            if "instance_id" in body:
                self.migration_types[body["instance_id"]] = body["migration_type"]
            self.log.write("constraints", url=url, body=body, status=result["status"])
