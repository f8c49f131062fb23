# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""The Fenix Host Maintenance API v1 as a VNFM sees it: read this module first.

Everything here is data in, data out (no network, no clock, no files), so
each step of the protocol can be read and tested on its own:

1. ``parse_notification``: the body AODH posts (or the bus carries) as a ``Notification``;
2. ``reason_not_for_us``: notifications a VNFM drops;
3. ``decide``: the answer (ACK/NACK, an action per instance, a delay) under a ``Policy``;
4. ``reply_requests``: where the answer goes and what its body is (``vnf_instance`` and
   ``vnf_reply_requests`` for the per-instance questions of Fenix's vnf workflow);
5. ``constraint_requests``: the instance group and instance constraints a VNFM sets;
6. ``all_settled`` / ``all_active``: reading Nova statuses after a move.

``manager.Vnfm`` runs these steps for each notification, with the HTTP calls
of ``client.MaintenanceApi``.
"""

from __future__ import annotations

import ast
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

SCHEDULED = "maintenance.scheduled"
INSTANCE_ACTIONS = ("MIGRATE", "LIVE_MIGRATE", "OWN_ACTION")
INSTANCE_ACTION_DONE = "INSTANCE_ACTION_DONE"
# The states the API waits for an answer to (ACK_<state> or NACK_<state>).
ASKED_STATES = ("MAINTENANCE", "SCALE_IN", "PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE", "MAINTENANCE_COMPLETE")
# The states whose notification offers instance actions.
STATES_WITH_ACTIONS = ("PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE")
# The workflows a VNFM may speak: ``default`` answers each question for the project (or per instance
# with --per-instance); ``vnf`` is Fenix's VNF workflow, whose PREPARE/PLANNED ask about one instance each.
WORKFLOWS = ("default", "vnf")

POLICY_KINDS = ("live_migrate", "migrate", "own_action", "nack", "silent")
ACTION_OF_KIND = {"live_migrate": "LIVE_MIGRATE", "migrate": "MIGRATE", "own_action": "OWN_ACTION"}

# Nova statuses a server rests in; any other (MIGRATING, RESIZE, VERIFY_RESIZE, ...) is on its way somewhere.
RESTING_STATUSES = ("ACTIVE", "SHUTOFF", "ERROR", "PAUSED", "SUSPENDED", "SHELVED", "SHELVED_OFFLOADED",
                    "NOT_FOUND")

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


def is_past(deadline: Optional[str], now: datetime) -> bool:
    """Whether ``now`` is after a reply_at; a missing or unreadable one never passes."""
    moment = parse_time(deadline)
    return bool(moment and now > moment)


def reason_not_for_us(notification: Notification, project_id: str) -> Optional[str]:
    """Why a VNFM of ``project_id`` drops this notification, or None when it is one to handle."""
    if notification.event_type != SCHEDULED:
        return "event type %s is not %s" % (notification.event_type, SCHEDULED)
    if notification.project_id != project_id:
        # AODH routes by project, but on the bus every project's notifications pass by.
        return "for project %s, not this VNFM's project %s" % (notification.project_id, project_id)
    return None


def listed_instance_ids(payload: Dict[str, Any]) -> Tuple[Optional[str], List[str]]:
    """instance_ids is the URL of the project's list (to GET with the project's token) or the list itself.

    Returns (url, []) for the former, (None, ids) for the latter.
    """
    listed = payload.get("instance_ids")
    if isinstance(listed, list):
        return None, [str(item) for item in listed]
    if not isinstance(listed, str) or not listed.startswith(("http://", "https://")):
        raise NotificationError("instance_ids is neither a URL nor a list: %r" % (listed,))
    return listed, []


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


# ------------------------------------------------------------------ replies

@dataclass
class ReplyRequest:
    """One PUT of an answer: to the project's reply URL, or to one instance's."""

    url: str
    body: Dict[str, Any]
    instance_id: Optional[str] = None  # set for a per-instance answer


def instance_reply_url(reply_url: str, instance_id: str) -> str:
    """Where one instance's answer goes: the reply URL itself when it names the instance (Fenix's vnf
    workflow sends such a URL with a one-instance list), else the project URL plus the instance."""
    path = urlsplit(reply_url).path.rstrip("/")
    if path.endswith("/" + instance_id):
        return reply_url
    return reply_url.rstrip("/") + "/" + instance_id


def reply_requests(payload: Dict[str, Any], decision: Decision, instances: List[str],
                   per_instance: bool) -> List[ReplyRequest]:
    """The PUTs that carry ``decision``: one project answer, or one per instance.

    Per instance when asked to (--per-instance) or when the notification
    listed the instances itself, as Fenix's vnf workflow does.
    """
    if decision.reply is None:
        return []
    reply_url = payload.get("reply_url") or payload.get("instance_ids")
    if per_instance or isinstance(payload.get("instance_ids"), list):
        return [ReplyRequest(instance_reply_url(reply_url, instance_id),
                             {"state": decision.reply, "instance_action": decision.action}, instance_id)
                for instance_id in instances]
    body: Dict[str, Any] = {"state": decision.reply}
    if decision.action:
        body["instance_actions"] = {instance_id: decision.action for instance_id in instances}
    return [ReplyRequest(reply_url, body)]


def vnf_instance(payload: Dict[str, Any]) -> str:
    """The one instance a vnf-workflow PREPARE/PLANNED_MAINTENANCE notification asks about: ``instance_ids[0]``.

    Both real Fenix clients (OPNFV Doctor's VNFM, Tacker's Fenix plugin)
    refuse such a notification unless ``instance_ids`` and ``allowed_actions``
    are lists; so does this one, naming what it got.
    """
    instance_ids, allowed = payload.get("instance_ids"), payload.get("allowed_actions")
    if not isinstance(instance_ids, list) or not instance_ids:
        raise NotificationError("vnf workflow: instance_ids of %s is not a list naming the instance asked about: %r"
                                % (payload.get("state"), instance_ids))
    if not isinstance(allowed, list):
        raise NotificationError("vnf workflow: allowed_actions of %s is not a list: %r"
                                % (payload.get("state"), allowed))
    return str(instance_ids[0])


def vnf_reply_requests(payload: Dict[str, Any], decision: Decision, instance_id: str) -> List[ReplyRequest]:
    """The one PUT to the notification's own ``reply_url`` (the instance's URL), as Doctor's VNFM sends it.

    ``{"state", "instance_action", "session_id"}``: ``instance_action`` only
    with an ACK (``decision.action``, the instance's migration_type), and
    ``session_id`` as the real clients add it (the API ignores it).
    """
    if decision.reply is None:
        return []
    if not payload.get("reply_url"):
        raise NotificationError("vnf workflow: %s carries no reply_url to answer on" % payload.get("state"))
    body: Dict[str, Any] = {"state": decision.reply}
    if decision.action and decision.reply.startswith("ACK_"):
        body["instance_action"] = decision.action
    body["session_id"] = payload.get("session_id")
    return [ReplyRequest(payload["reply_url"], body, instance_id)]


# ------------------------------------------------------------------ constraints

@dataclass
class ConstraintOptions:
    max_impacted: int = 1
    recovery_time: int = 4
    max_interruption_time: int = 120
    lead_time: int = 0
    resource_mitigation: bool = False
    # The name of a Fenix instance group of the VNF's own, beside the Nova server group (None: none).
    vnf_group: Optional[str] = None


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


def constraint_requests(api_url: str, group: Dict[str, Any], project_id: str, migration_type: Optional[str],
                        options: ConstraintOptions) -> List[Tuple[str, Dict[str, Any]]]:
    """(url, body) of each constraints PUT: the group first, then each member.

    ``group`` is {id, name, policy, members, names}, as ``cloud.Cloud.server_group`` reads it from Nova.
    """
    base = api_url.rstrip("/")
    requests = [("%s/instance_group/%s" % (base, group["id"]), group_constraints(group, project_id, options))]
    for member in group["members"]:
        requests.append(("%s/instance/%s" % (base, member), instance_constraints(
            member, group["names"].get(member), group["id"], project_id, migration_type, options)))
    return requests


def vnf_group_id(project_id: str, name: str) -> str:
    """The id of the VNF's own instance group: the same at every start of the VNFM."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fenix-vnfm:%s:%s" % (project_id, name)))


def vnf_group_requests(api_url: str, group: Dict[str, Any], server_ids: List[str], project_id: str,
                       migration_type: Optional[str], options: ConstraintOptions) -> List[Tuple[str, Dict[str, Any]]]:
    """(url, body) of the PUTs of the VNF's own instance group, one Nova does not know.

    Its members are the servers in no Nova group of ours and the last member
    of ``group``, so the two groups overlap: that member obeys both groups'
    rules, its instance constraint naming the VNF group (Nova names the other).
    """
    base = api_url.rstrip("/")
    group_id = vnf_group_id(project_id, options.vnf_group)
    members = [group["members"][-1]] + [server_id for server_id in server_ids if server_id not in group["members"]]
    body = {"group_id": group_id, "project_id": project_id, "group_name": options.vnf_group,
            "anti_affinity_group": False, "max_instances_per_host": None,
            "max_impacted_members": options.max_impacted, "recovery_time": options.recovery_time,
            "resource_mitigation": options.resource_mitigation}
    requests = [("%s/instance_group/%s" % (base, group_id), body)]
    for member in members:
        requests.append(("%s/instance/%s" % (base, member), instance_constraints(
            member, group["names"].get(member), group_id, project_id, migration_type, options)))
    return requests


# ------------------------------------------------------------------ checking after a move

def all_settled(statuses: Dict[str, str]) -> bool:
    """Whether every server rests in a status (none is migrating, resizing, ...)."""
    return all(status in RESTING_STATUSES for status in statuses.values())


def all_active(statuses: Dict[str, str]) -> bool:
    """Whether there are servers and every one is ACTIVE."""
    return bool(statuses) and all(status == "ACTIVE" for status in statuses.values())
