# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""A reference application manager (VNFM) for the Fenix Host Maintenance API v1.

It is what a VNF vendor has to build, in one file, to take part in rolling
maintenance of an OpenStack cloud run by fenix.maintenance (or by Fenix):

1. hear about maintenance: a webhook (the body AODH posts when the project's
   ``maintenance.scheduled`` event alarm fires) and/or the cloud's message bus;
2. read the project's affected instances from the URL in the notification;
3. answer with ACK or NACK and, when asked, an action per instance
   (LIVE_MIGRATE, MIGRATE or OWN_ACTION), retrying until the API says 200;
4. tell the API its constraints once (an instance group from its Nova server
   group, and each member's migration type);
5. after each move (INSTANCE_ACTION_DONE) and at the end (MAINTENANCE_COMPLETE),
   check that its instances are ACTIVE.

How it answers is a policy given on the command line, so that tests and demos
can play every kind of tenant: a cooperative one, one that refuses, one that
never answers, one that answers late. Everything it receives, decides and
sends is appended to a JSON-lines event log.

Needs Python 3.8+ and openstacksdk (for its Keystone token and its servers);
kombu only with --bus. See README.md beside this file and docs/vnf_vendor_guide.md.

    python vnfm.py --cloud fenix-tenant-a --listen 127.0.0.1:12360 --policy live_migrate
"""

from __future__ import annotations

import argparse
import ast
import collections
import functools
import json
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qs, urlsplit
from urllib.request import Request, urlopen

SCHEDULED = "maintenance.scheduled"
INSTANCE_ACTIONS = ("MIGRATE", "LIVE_MIGRATE", "OWN_ACTION")
INSTANCE_ACTION_DONE = "INSTANCE_ACTION_DONE"
# The states the API waits for an answer to (ACK_<state> or NACK_<state>).
ASKED_STATES = ("MAINTENANCE", "SCALE_IN", "PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE", "MAINTENANCE_COMPLETE")
# The states whose notification offers instance actions.
STATES_WITH_ACTIONS = ("PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE")

POLICY_KINDS = ("live_migrate", "migrate", "own_action", "nack", "silent")
ACTION_OF_KIND = {"live_migrate": "LIVE_MIGRATE", "migrate": "MIGRATE", "own_action": "OWN_ACTION"}

# Nova statuses a server rests in; any other (MIGRATING, RESIZE, VERIFY_RESIZE, ...) is on its way somewhere.
RESTING_STATUSES = ("ACTIVE", "SHUTOFF", "ERROR", "PAUSED", "SUSPENDED", "SHELVED", "SHELVED_OFFLOADED",
                    "NOT_FOUND")

MAX_BODY = 1024 * 1024  # a notification is a few KiB; refuse anything absurd
FENIX_TIME = "%Y-%m-%d %H:%M:%S"


class NotificationError(ValueError):
    """A body that is not a notification this VNFM understands."""


class PolicyError(ValueError):
    """A --policy or --state-policy value that does not parse."""


# ------------------------------------------------------------------ reading notifications

@dataclass
class Notification:
    event_type: str
    payload: Dict[str, Any]
    message_id: str
    shape: str  # aodh, oslo or payload: which wrapping it came in

    @property
    def project_id(self) -> Optional[str]:
        return self.payload.get("project_id")

    @property
    def state(self) -> Optional[str]:
        return self.payload.get("state")


def decode_trait_value(value: Any) -> Any:
    """A trait value as the Python value the notifier sent.

    Ceilometer traits hold scalars, so lists and dicts arrive as text: JSON
    from fenix.maintenance, a Python repr ("[u'MIGRATE']") from Fenix-era
    AODH. Doctor decoded with yaml, Tacker with eval(); ast.literal_eval reads
    both forms without running anything.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text[0] not in "[{":
        return value
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return value


def traits_to_payload(traits: List[Any]) -> Dict[str, Any]:
    """The payload rebuilt from event traits: [name, type, value] lists, or {name, type, value} dicts."""
    payload = {}
    for item in traits or []:
        if isinstance(item, dict):
            name, value = item.get("name"), item.get("value")
        elif isinstance(item, (list, tuple)) and len(item) == 3:
            name, _dtype, value = item
        else:
            raise NotificationError("trait %r is neither [name, type, value] nor {name, type, value}" % (item,))
        if not isinstance(name, str):
            raise NotificationError("trait %r has no name" % (item,))
        payload[name] = decode_trait_value(value)
    return payload


def parse_notification(body: Any) -> Notification:
    """Any of the shapes a maintenance notification reaches a VNFM in.

    - the AODH event-alarm webhook body (reason_data.event.traits);
    - an oslo.messaging notification, in the 2.0 envelope ({"oslo.message": "<json>"})
      or as the message itself ({event_type, payload, message_id, ...});
    - the bare ``maintenance.scheduled`` payload, as some test tools post it.
    """
    if not isinstance(body, dict):
        raise NotificationError("a notification is a JSON object, not %s" % type(body).__name__)
    if "oslo.message" in body:
        try:
            body = json.loads(body["oslo.message"])
        except (TypeError, ValueError) as exc:
            raise NotificationError("oslo.message is not JSON: %s" % exc) from exc
        return parse_notification(body)
    event = (body.get("reason_data") or {}).get("event") if isinstance(body.get("reason_data"), dict) else None
    if isinstance(event, dict):
        return Notification(event.get("event_type") or "", traits_to_payload(event.get("traits")),
                            event.get("message_id") or str(uuid.uuid4()), "aodh")
    if isinstance(body.get("payload"), dict) and "event_type" in body:
        return Notification(body["event_type"], body["payload"], body.get("message_id") or str(uuid.uuid4()), "oslo")
    if "state" in body and "project_id" in body:
        return Notification(SCHEDULED, body, str(uuid.uuid4()), "payload")
    raise NotificationError("neither an AODH alarm body, an oslo.messaging notification nor a maintenance payload")


def parse_time(value: Optional[str]) -> Optional[datetime]:
    """reply_at / actions_at: Fenix's 'YYYY-MM-DD HH:MM:SS' (UTC) or the ISO form a datetime trait has."""
    if not value or not isinstance(value, str):
        return None
    for form in (FENIX_TIME, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f"):
        try:
            return datetime.strptime(value.rstrip("Z"), form).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


# ------------------------------------------------------------------ policy

@dataclass(frozen=True)
class Policy:
    """How to answer: an ACK with an instance action, a NACK, or silence; optionally after a delay."""

    kind: str = "live_migrate"
    delay: float = 0.0

    @property
    def action(self) -> Optional[str]:
        return ACTION_OF_KIND.get(self.kind)

    def describe(self) -> str:
        return self.kind + (",late=%g" % self.delay if self.delay else "")


def parse_policy(text: str) -> Policy:
    """``KIND[,late=SECONDS]`` or ``late=SECONDS`` (a live_migrate answer, late)."""
    kind, delay = None, 0.0
    for part in (piece.strip() for piece in text.lower().split(",")):
        if part.startswith("late="):
            try:
                delay = float(part[len("late="):])
            except ValueError as exc:
                raise PolicyError("late=%s: give the delay in seconds, e.g. late=30" % part[len("late="):]) from exc
            if delay < 0:
                raise PolicyError("late=%g: a delay cannot be negative" % delay)
        elif part in POLICY_KINDS:
            if kind is not None:
                raise PolicyError("%r names two answers (%s and %s); give one" % (text, kind, part))
            kind = part
        else:
            raise PolicyError("%r: use one of %s, optionally with ,late=SECONDS" % (part, ", ".join(POLICY_KINDS)))
    if kind == "silent" and delay:
        raise PolicyError("%r: a silent VNFM never answers, so late= means nothing" % text)
    return Policy(kind or "live_migrate", delay)


@dataclass
class PolicyBook:
    """The default policy and per-state overrides (``--state-policy SCALE_IN=nack``)."""

    default: Policy
    by_state: Dict[str, Policy] = field(default_factory=dict)

    def for_state(self, state: str) -> Policy:
        return self.by_state.get(state, self.default)

    @classmethod
    def parse(cls, default: str, overrides: List[str]) -> "PolicyBook":
        by_state = {}
        for item in overrides or []:
            state, sep, spec = item.partition("=")
            state = state.strip().upper()
            if not sep or state not in ASKED_STATES:
                raise PolicyError("--state-policy %r: write STATE=POLICY with STATE one of %s"
                                  % (item, ", ".join(ASKED_STATES)))
            by_state[state] = parse_policy(spec)
        return cls(parse_policy(default), by_state)


@dataclass
class Decision:
    reply: Optional[str]  # ACK_<state> / NACK_<state>, or None: send nothing
    action: Optional[str]  # the action for every instance, when the state offers actions
    delay: float
    note: str


def decide(policy: Policy, state: str, allowed_actions: List[str]) -> Decision:
    """What to answer to ``state`` under ``policy``; pure, so that it is easy to test and to read."""
    if state not in ASKED_STATES:
        return Decision(None, None, 0.0, "%s asks nothing" % state)
    if policy.kind == "silent":
        return Decision(None, None, 0.0, "policy silent: no answer; the operator's silent_policy decides")
    if policy.kind == "nack":
        return Decision("NACK_" + state, None, policy.delay, "policy nack")
    offered = [action for action in allowed_actions or [] if action in INSTANCE_ACTIONS]
    if state not in STATES_WITH_ACTIONS or not offered:
        return Decision("ACK_" + state, None, policy.delay, "ACK; %s offers no instance actions" % state)
    if policy.action in offered:
        return Decision("ACK_" + state, policy.action, policy.delay, "ACK with %s" % policy.action)
    # Ask for what the operator offers rather than refuse: the next best is its first choice.
    return Decision("ACK_" + state, offered[0], policy.delay,
                    "ACK with %s: %s is not offered (%s)" % (offered[0], policy.action, ", ".join(offered)))


# ------------------------------------------------------------------ the event log

class EventLog:
    """JSON lines: {"at": <UTC ISO time>, "event": <what>, ...}; tests and the demo read them."""

    def __init__(self, path: Optional[str]) -> None:
        self.handle = open(path, "a", encoding="utf-8") if path else sys.stdout
        self.lock = threading.Lock()

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps(dict({"at": datetime.now(timezone.utc).isoformat(), "event": event}, **fields),
                          sort_keys=True, default=str)
        with self.lock:
            self.handle.write(line + "\n")
            self.handle.flush()

    def close(self) -> None:
        if self.handle is not sys.stdout:
            self.handle.close()


# ------------------------------------------------------------------ the maintenance API

def worth_retrying(status: Optional[int]) -> bool:
    """Network errors, 5xx, 408 and 429 may pass later; 401 passes with a new token; other 4xx never will."""
    return status is None or status >= 500 or status in (401, 408, 429)


class MaintenanceApi:
    """Plain HTTP with the project's Keystone token in X-Auth-Token; JSON in and out.

    ``token(fresh)`` gives the token, a new one when ``fresh`` (after a 401).
    Requests are retried with exponential backoff while worth it, at most
    ``retries`` times: Fenix clients retry until 200, but a VNFM that retries
    forever hides a broken setup.
    """

    def __init__(self, token: Callable[[bool], str], retries: int = 5, retry_delay: float = 1.0,
                 timeout: float = 10.0, opener: Callable = urlopen,
                 sleep: Callable[[float], Any] = time.sleep) -> None:
        self.token = token
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.opener = opener
        self.sleep = sleep

    def call(self, method: str, url: str, body: Optional[dict] = None) -> Dict[str, Any]:
        """{status, body, attempts, error}; error is None exactly when the status is 200."""
        attempt, fresh = 0, False
        while True:
            attempt += 1
            status, answer, error = self._once(method, url, body, self.token(fresh))
            fresh = status == 401
            if status == 200 or not worth_retrying(status) or attempt > self.retries:
                return {"status": status, "body": answer, "attempts": attempt, "error": error}
            self.sleep(self.retry_delay * (2 ** (attempt - 1)))

    def _once(self, method: str, url: str, body: Optional[dict], token: str) -> Tuple[Optional[int], Any, Optional[str]]:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = Request(url, data=data, method=method, headers={
            "X-Auth-Token": token, "Content-Type": "application/json", "Accept": "application/json"})
        try:
            with self.opener(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (URLError, socket.timeout, OSError) as exc:
            return None, None, str(getattr(exc, "reason", exc))
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode("utf-8", "replace")
        if status == 200:
            return status, answer, None
        message = answer.get("error", {}).get("message") if isinstance(answer, dict) else None
        return status, answer, "HTTP %d%s" % (status, ": " + message if message else "")


def instance_reply_url(reply_url: str, instance_id: str) -> str:
    """Where one instance's answer goes: the reply URL itself when it names the instance (Fenix's vnf
    workflow sends such a URL with a one-instance list), else the project URL plus the instance."""
    path = urlsplit(reply_url).path.rstrip("/")
    if path.endswith("/" + instance_id):
        return reply_url
    return reply_url.rstrip("/") + "/" + instance_id


# ------------------------------------------------------------------ the cloud (openstacksdk)

class Cloud:
    """The VNFM's own view of the cloud, through openstacksdk with the project's credentials."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.lock = threading.Lock()  # one connection, several handler threads

    @classmethod
    def connect(cls, cloud: str) -> "Cloud":
        import openstack  # imported here so that the notification logic needs no SDK
        return cls(openstack.connect(cloud=cloud))

    @property
    def project_id(self) -> str:
        return self.conn.current_project_id

    def token(self, fresh: bool = False) -> str:
        with self.lock:
            if fresh:
                self.conn.session.invalidate()
            return self.conn.session.get_token()

    def endpoint(self, service_type: str) -> Optional[str]:
        with self.lock:
            try:
                return self.conn.endpoint_for(service_type)
            except Exception:  # pylint: disable=broad-except
                return None  # keystoneauth raises when the catalog lacks it

    def my_server_ids(self) -> List[str]:
        with self.lock:
            return sorted(server.id for server in self.conn.compute.servers())

    def statuses(self, server_ids: List[str]) -> Dict[str, str]:
        result = {}
        with self.lock:
            for server_id in server_ids:
                server = self.conn.compute.find_server(server_id, ignore_missing=True)
                result[server_id] = server.status if server is not None else "NOT_FOUND"
        return result

    def delete_servers(self, count: int, keep: List[str], timeout: float = 120.0) -> List[str]:
        """Delete ``count`` of our servers (the newest first, never those in ``keep``); wait until they are gone."""
        with self.lock:
            servers = sorted(self.conn.compute.servers(), key=lambda server: server.created_at or "", reverse=True)
            chosen = [server for server in servers if server.id not in keep][:count]
            for server in chosen:
                self.conn.compute.delete_server(server)
            for server in chosen:
                self.conn.compute.wait_for_delete(server, wait=timeout)
        return [server.id for server in chosen]

    def server_group(self, name: str) -> Dict[str, Any]:
        with self.lock:
            for group in self.conn.compute.server_groups():
                if group.name == name or group.id == name:
                    policy = getattr(group, "policy", None) or (list(getattr(group, "policies", None) or []) or [None])[0]
                    members = list(group.member_ids or [])
                    names = {server_id: self.conn.compute.get_server(server_id).name for server_id in members}
                    return {"id": group.id, "name": group.name, "policy": policy, "members": members, "names": names}
        raise LookupError("no server group %r in project %s" % (name, self.project_id))


# ------------------------------------------------------------------ constraints

@dataclass
class ConstraintOptions:
    max_impacted: int = 1
    recovery_time: int = 4
    max_interruption_time: int = 120
    lead_time: int = 0
    resource_mitigation: bool = False


def group_constraints(group: Dict[str, Any], project_id: str, options: ConstraintOptions) -> Dict[str, Any]:
    """The PUT /instance_group/{group_id} body for a Nova server group."""
    anti_affinity = group.get("policy") in ("anti-affinity", "soft-anti-affinity")
    return {
        "group_id": group["id"],
        "project_id": project_id,
        "group_name": group["name"],
        "anti_affinity_group": anti_affinity,
        "max_instances_per_host": 1 if anti_affinity else None,
        "max_impacted_members": options.max_impacted,
        "recovery_time": options.recovery_time,
        "resource_mitigation": options.resource_mitigation,
    }


def instance_constraints(instance_id: str, name: Optional[str], group_id: str, project_id: str,
                         migration_type: Optional[str], options: ConstraintOptions) -> Dict[str, Any]:
    """The PUT /instance/{instance_id} body for one member of the group."""
    return {
        "instance_id": instance_id,
        "project_id": project_id,
        "group_id": group_id,
        "instance_name": name,
        "max_interruption_time": options.max_interruption_time,
        "migration_type": migration_type,
        "resource_mitigation": options.resource_mitigation,
        "lead_time": options.lead_time,
    }


# ------------------------------------------------------------------ the VNFM

class Vnfm:
    """Turns notifications into answers. Transport-independent: the webhook and the bus both call handle()."""

    def __init__(self, project_id: str, policies: PolicyBook, api: MaintenanceApi, cloud, log: EventLog,
                 per_instance: bool = False, check_timeout: float = 60.0, check_interval: float = 2.0,
                 stop: Optional[threading.Event] = None, scale_in_delete: int = 0, keep: Optional[List[str]] = None) -> None:
        self.project_id = project_id
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
        if notification.event_type != SCHEDULED:
            return "event type %s is not %s" % (notification.event_type, SCHEDULED)
        if notification.project_id != self.project_id:
            # AODH routes by project, but on the bus every project's notifications pass by.
            return "for project %s, not this VNFM's project %s" % (notification.project_id, self.project_id)
        with self.seen_lock:
            if notification.message_id in self.seen:
                return "duplicate of message %s (two alarms, or bus and webhook)" % notification.message_id
            self.seen.append(notification.message_id)
        return None

    # what is asked
    def listed_instances(self, payload: Dict[str, Any]) -> List[str]:
        """instance_ids is the URL of the project's list (GET it with our token), or a list of ids."""
        listed = payload.get("instance_ids")
        if isinstance(listed, list):
            return [str(item) for item in listed]
        if not isinstance(listed, str) or not listed.startswith(("http://", "https://")):
            raise NotificationError("instance_ids is neither a URL nor a list: %r" % (listed,))
        result = self.api.call("GET", listed)
        if result["error"]:
            raise RuntimeError("GET %s failed after %d attempts: %s" % (listed, result["attempts"], result["error"]))
        return list((result["body"] or {}).get("instance_ids") or [])

    def answer(self, payload: Dict[str, Any], context: Dict[str, Any]) -> None:
        state = payload.get("state") or ""
        instances = self.listed_instances(payload)
        self.log.write("instances", instance_ids=instances, **context)
        policy = self.policies.for_state(state)
        decision = decide(policy, state, decode_trait_value(payload.get("allowed_actions")) or [])
        self.log.write("decided", policy=policy.describe(), reply=decision.reply, action=decision.action,
                       delay=decision.delay, note=decision.note, **context)
        if state == "MAINTENANCE_COMPLETE":
            # The operator is done: scale back out if we scaled in, and make sure all is well.
            self.check_active(self.cloud.my_server_ids(), context)
        if decision.reply is None:
            return
        if decision.action == "OWN_ACTION":
            self.own_action(instances, context)
        if state == "SCALE_IN" and decision.reply.startswith("ACK_") and self.scale_in_delete:
            # Free capacity before saying so: the operator plans again right after our ACK.
            deleted = self.cloud.delete_servers(self.scale_in_delete, self.keep)
            self.scale_in_delete = 0
            self.log.write("scaled_in", deleted=deleted, **context)
        if decision.delay and self.stop.wait(decision.delay):
            self.log.write("dropped", reason="stopping before the late answer was due", **context)
            return
        reply_url = payload.get("reply_url") or payload.get("instance_ids")
        late = self.after(payload.get("reply_at"))
        if self.per_instance or isinstance(payload.get("instance_ids"), list):
            for instance_id in instances:
                body = {"state": decision.reply, "instance_action": decision.action}
                self.send(instance_reply_url(reply_url, instance_id), body, dict(context, instance_id=instance_id), late)
        else:
            body = {"state": decision.reply}
            if decision.action:
                body["instance_actions"] = {instance_id: decision.action for instance_id in instances}
            self.send(reply_url, body, context, late)

    @staticmethod
    def after(reply_at: Optional[str]) -> bool:
        deadline = parse_time(reply_at)
        return bool(deadline and datetime.now(timezone.utc) > deadline)

    def send(self, url: str, body: Dict[str, Any], context: Dict[str, Any], late: bool) -> None:
        result = self.api.call("PUT", url, body)
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
            resting = all(status in RESTING_STATUSES for status in statuses.values())
            if resting or time.monotonic() >= deadline or self.stop.wait(self.check_interval):
                break
        all_active = bool(statuses) and all(status == "ACTIVE" for status in statuses.values())
        self.log.write("checked", all_active=all_active, statuses=statuses, **context)
        return all_active

    # constraints
    def ensure_constraints(self) -> None:
        """Constraints not yet accepted are set before anything is answered: the operator plans with them."""
        with self.constraints_lock:
            if self.pending_constraints is not None:
                self.pending_constraints()
                self.pending_constraints = None

    def set_constraints(self, api_url: str, group_name: str, options: ConstraintOptions) -> None:
        """Tell the API about our server group and each member, once at start (and again after a scale-out)."""
        group = self.cloud.server_group(group_name)
        base = api_url.rstrip("/")
        bodies = [("%s/instance_group/%s" % (base, group["id"]), group_constraints(group, self.project_id, options))]
        migration_type = self.policies.for_state("PLANNED_MAINTENANCE").action
        for member in group["members"]:
            bodies.append(("%s/instance/%s" % (base, member), instance_constraints(
                member, group["names"].get(member), group["id"], self.project_id, migration_type, options)))
        for url, body in bodies:
            result = self.api.call("PUT", url, body)
            if result["error"]:
                raise RuntimeError("PUT %s failed: %s" % (url, result["error"]))
            self.log.write("constraints", url=url, body=body, status=result["status"])


# ------------------------------------------------------------------ transports

class WebhookServer(ThreadingHTTPServer):
    """The URL of the project's AODH alarm_actions (any path): POST a notification, get 200 at once.

    The answer goes out later from a thread of its own, because AODH's
    notifier does not wait long and a late policy may sleep.
    """

    daemon_threads = True

    def __init__(self, address: Tuple[str, int], vnfm: Vnfm) -> None:
        self.vnfm = vnfm
        self.workers: List[threading.Thread] = []  # answers under way, waited for at stop
        self.workers_lock = threading.Lock()
        super().__init__(address, WebhookHandler)

    def dispatch(self, body: Any) -> None:
        worker = threading.Thread(target=self.vnfm.handle_body, args=(body, "webhook"), daemon=True)
        worker.start()
        with self.workers_lock:
            self.workers = [thread for thread in self.workers if thread.is_alive()] + [worker]

    def wait_for_workers(self, timeout: float) -> None:
        with self.workers_lock:
            workers = list(self.workers)
        for worker in workers:
            worker.join(timeout)


class WebhookHandler(BaseHTTPRequestHandler):
    server: WebhookServer

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.reply(413, {"error": "body larger than %d bytes" % MAX_BODY})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError as exc:
            self.server.vnfm.log.write("error", transport="webhook", error="body is not JSON: %s" % exc)
            self.reply(400, {"error": "body is not JSON"})
            return
        self.server.dispatch(body)  # before the 200, so a stop right after it still waits for this answer
        self.reply(200, {})

    def do_GET(self) -> None:  # noqa: N802
        """A readiness probe: who we are and how we answer."""
        vnfm = self.server.vnfm
        self.reply(200, {"project_id": vnfm.project_id, "policy": vnfm.policies.default.describe()})

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args) -> None:  # pylint: disable=redefined-builtin
        pass  # the event log says what matters


def kombu_url(transport_url: str) -> Tuple[str, bool]:
    """oslo's rabbit://u:p@h1:5672,u:p@h2:5672/vhost as kombu's failover URL, and whether to use TLS."""
    parts = urlsplit(transport_url)
    if parts.scheme not in ("rabbit", "amqp") or not parts.netloc:
        raise ValueError("--bus: give the cloud's transport_url, rabbit://user:password@host:5672/vhost")
    use_ssl = parse_qs(parts.query).get("ssl", ["0"])[-1].lower() in ("1", "true", "yes")
    vhost = parts.path or "/"
    return ";".join("amqp://%s%s" % (host, vhost) for host in parts.netloc.split(",")), use_ssl


class BusConsumer(threading.Thread):
    """Listens for notifications on the cloud's RabbitMQ, as a Ceilometer notification agent would.

    A queue of our own (exclusive, deleted when we leave) is bound to the
    exchange and ``<topic>.info``, so we take nothing from Ceilometer's queue.
    Every project's notifications pass by here; Vnfm.handle keeps ours.
    """

    def __init__(self, transport_url: str, exchange: str, topic: str, vnfm: Vnfm) -> None:
        super().__init__(daemon=True)
        import kombu  # only with --bus
        self.kombu = kombu
        self.url, self.use_ssl = kombu_url(transport_url)
        self.exchange_name = exchange
        self.routing_key = "%s.info" % topic
        self.queue_name = "reference-vnfm-%s-%s" % (vnfm.project_id, uuid.uuid4().hex[:8])
        self.vnfm = vnfm
        self.ready = threading.Event()

    def run(self) -> None:
        durable = False
        while not self.vnfm.stop.is_set():
            try:
                self.consume(durable)
            except Exception as exc:  # pylint: disable=broad-except
                if "PRECONDITION" in str(exc).upper() or "durable" in str(exc):
                    durable = not durable  # the exchange exists with the other durability: take it as it is
                    continue
                self.vnfm.log.write("error", transport="bus", error="%s: %s" % (type(exc).__name__, exc))
                self.vnfm.stop.wait(2)

    def consume(self, durable: bool) -> None:
        kombu = self.kombu
        exchange = kombu.Exchange(self.exchange_name, type="topic", durable=durable, auto_delete=False)
        queue = kombu.Queue(self.queue_name, exchange, routing_key=self.routing_key, exclusive=True, auto_delete=True)
        with kombu.Connection(self.url, ssl=self.use_ssl, connect_timeout=10) as connection:
            with connection.Consumer(queue, callbacks=[self.on_message], accept=["json", "text/plain"], no_ack=True):
                self.ready.set()
                while not self.vnfm.stop.is_set():
                    try:
                        connection.drain_events(timeout=1)
                    except socket.timeout:
                        continue

    def on_message(self, body: Any, _message) -> None:
        if isinstance(body, (bytes, str)):
            try:
                body = json.loads(body)
            except ValueError:
                self.vnfm.log.write("error", transport="bus", error="message is not JSON")
                return
        # Handled in a thread: a late answer must not hold up the next notification.
        threading.Thread(target=self.vnfm.handle_body, args=(body, "bus"), daemon=True).start()


# ------------------------------------------------------------------ command line

def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Reference VNFM for the Fenix Host Maintenance API v1.")
    parser.add_argument("--cloud", required=True, help="clouds.yaml entry of the project's user")
    parser.add_argument("--listen", help="HOST:PORT of the webhook (the URL of the AODH alarm's alarm_actions)")
    parser.add_argument("--bus", metavar="TRANSPORT_URL", help="consume notifications from the cloud's RabbitMQ")
    parser.add_argument("--exchange", default="openstack", help="bus exchange (default: openstack)")
    parser.add_argument("--topic", default="notifications", help="bus topic (default: notifications)")
    parser.add_argument("--policy", default="live_migrate",
                        help="how to answer: %s, optionally ,late=SECONDS; or late=SECONDS (default: live_migrate)"
                        % " | ".join(POLICY_KINDS))
    parser.add_argument("--state-policy", action="append", default=[], metavar="STATE=POLICY",
                        help="policy for one state, e.g. SCALE_IN=nack (repeatable)")
    parser.add_argument("--per-instance", action="store_true",
                        help="answer each instance with PUT .../{instance_id} instead of one project answer")
    parser.add_argument("--api-url", help="the maintenance API ending in /v1 (default: the catalog's maintenance"
                                          " service); needed for --group only, answers go to reply_url")
    parser.add_argument("--group", help="Nova server group whose constraints to set at start")
    parser.add_argument("--max-impacted", type=int, default=1, help="max_impacted_members of the group (default 1)")
    parser.add_argument("--recovery-time", type=int, default=4, help="seconds a member needs after a move (default 4)")
    parser.add_argument("--max-interruption", type=int, default=120, help="max_interruption_time per instance (s)")
    parser.add_argument("--lead-time", type=int, default=0, help="seconds of notice an instance needs")
    parser.add_argument("--resource-mitigation", action="store_true", help="the VNF may run with fewer instances")
    parser.add_argument("--scale-in-delete", type=int, default=0, metavar="N",
                        help="on SCALE_IN, delete N of the project's servers (newest first, not --group members)"
                             " before answering ACK_SCALE_IN (once)")
    parser.add_argument("--log", help="JSON-lines event log (default: standard output)")
    parser.add_argument("--reply-retries", type=int, default=5, help="retries of a request to the API (default 5)")
    parser.add_argument("--check-timeout", type=float, default=60.0,
                        help="how long to wait for moving instances to settle before checking (default 60 s)")
    args = parser.parse_args(argv)
    if not args.listen and not args.bus:
        parser.error("give --listen (webhook) and/or --bus (message bus)")
    try:
        args.policies = PolicyBook.parse(args.policy, args.state_policy)
    except PolicyError as exc:
        parser.error(str(exc))
    return args


def listen_address(text: str) -> Tuple[str, int]:
    host, _colon, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    log = EventLog(args.log)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    cloud = Cloud.connect(args.cloud)
    api = MaintenanceApi(cloud.token, retries=args.reply_retries)
    vnfm = Vnfm(cloud.project_id, args.policies, api, cloud, log, per_instance=args.per_instance,
                check_timeout=args.check_timeout, stop=stop, scale_in_delete=args.scale_in_delete)

    if args.group:
        api_url = args.api_url or cloud.endpoint("maintenance")
        if not api_url:
            log.write("error", error="--group needs the API: give --api-url, or register the service type"
                                     " maintenance in the Keystone catalog")
            return 2
        vnfm.keep = cloud.server_group(args.group)["members"]
        options = ConstraintOptions(args.max_impacted, args.recovery_time, args.max_interruption, args.lead_time,
                                    args.resource_mitigation)
        try:
            vnfm.set_constraints(api_url, args.group, options)
        except RuntimeError as exc:
            # The API may start after the VNFM (an operator's run starts it); try again before the first answer.
            log.write("constraints_deferred", error=str(exc))
            vnfm.pending_constraints = functools.partial(vnfm.set_constraints, api_url, args.group, options)

    server = consumer = None
    if args.listen:
        server = WebhookServer(listen_address(args.listen), vnfm)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    if args.bus:
        consumer = BusConsumer(args.bus, args.exchange, args.topic, vnfm)
        consumer.start()
        if not consumer.ready.wait(30):
            log.write("error", transport="bus", error="could not bind a queue on the bus within 30 s")
            return 1
    log.write("started", project_id=vnfm.project_id, policy=args.policies.default.describe(),
              state_policies={state: policy.describe() for state, policy in args.policies.by_state.items()},
              webhook="http://%s:%d/maintenance" % server.server_address[:2] if server else None,
              bus=bool(consumer))

    while not stop.wait(0.5):
        pass
    # Stop taking notifications, then give answers under way a moment to finish.
    if server:
        server.shutdown()
        server.server_close()
        server.wait_for_workers(timeout=10)
    if consumer:
        consumer.join(timeout=5)
    log.write("stopped", project_id=vnfm.project_id)
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
