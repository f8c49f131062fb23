# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Telling projects (and the admin) about a maintenance session, as Fenix does.

Three parts, each usable alone:

- payloads: the Fenix ``maintenance.scheduled`` project payload and the
  ``maintenance.host`` admin payload;
- the bus: an oslo.messaging notification (2.0 envelope) published with kombu
  on the cloud's RabbitMQ, where Ceilometer turns it into an event that fires
  the projects' AODH event alarms;
- the webhook: the body AODH's notifier would POST for such an alarm, sent
  straight to the project's URL, for clouds without that pipeline.

``Notifier`` ties them to the session journal: a project is recorded as
notified before anything is sent, so a run killed in between re-notifies it
rather than waits for an answer to a question never asked.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qs, urlsplit

from ansible_collections.fenix.maintenance.plugins.module_utils.clock import fenix_time, parse_time, utc_datetime
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import project_names
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ProjectRecord
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.replies import POLICY, ask_history
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import (
    DECIDE_AT_ONCE,
    HOST_STATES,
    INSTANCE_ACTION_DONE,
    INSTANCE_ACTIONS,
    MAINTENANCE,
    PROJECT_STATES,
    STATES_WITH_ACTIONS,
    VNF_WORKFLOW,
)

try:
    import kombu

    HAS_KOMBU = True
    KOMBU_IMPORT_ERROR = None
except ImportError as exc:  # reported when the bus is used, not at import time
    kombu = None
    HAS_KOMBU = False
    KOMBU_IMPORT_ERROR = exc

try:
    # urllib3 comes with openstacksdk (through requests); it retries with backoff, so the webhook need not.
    import urllib3
    from urllib3.util.retry import Retry

    URLLIB3_IMPORT_ERROR = None
except ImportError as exc:  # reported when a webhook is used, not at import time
    urllib3 = None
    Retry = object
    URLLIB3_IMPORT_ERROR = exc

SERVICE = "fenix"
PUBLISHER_ID = "fenix"
SCHEDULED = "maintenance.scheduled"
HOST_EVENT = "maintenance.host"

# Ceilometer's event definitions for Fenix declare these traits as datetimes.
DATETIME_TRAITS = ("actions_at", "reply_at")

DEFAULT_EXCHANGE = "openstack"  # oslo.messaging's control_exchange default
DEFAULT_TOPIC = "notifications"
PRIORITY = "INFO"


class NotifyError(MaintenanceError):
    """A notification cannot be built or sent as asked; the message names the option."""


# Why an asked project was not reached: it has no VNFM (no bus, no webhook URL or alarm), or no
# transport delivered to the one it has. Either way the silent policy decides for it at its deadline.
NO_VNFM = "no_vnfm"
UNDELIVERED = "undelivered"
UNREACHABLE_EVENT = "project.unreachable"


# ---------------------------------------------------------------- payloads

def host_id(project_id: str, host: Optional[str]) -> str:
    """Nova's hostId: a host name a project may see, unique per project (nova.utils.generate_hostid)."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode("utf-8")).hexdigest()


def project_url(api_url: str, session_id: str, project_id: str) -> str:
    """GET it for the project's instances, PUT the reply to it (the same URL in Fenix)."""
    return "%s/maintenance/%s/%s" % (api_url.rstrip("/"), session_id, project_id)


def instance_url(api_url: str, session_id: str, project_id: str, instance_id: str) -> str:
    """Where one instance's answer goes (PUT), in the vnf workflow's per-instance asks."""
    return "%s/%s" % (project_url(api_url, session_id, project_id), instance_id)


def allowed_actions_for(state: str) -> List[str]:
    return list(INSTANCE_ACTIONS) if state in STATES_WITH_ACTIONS else []


def scheduled_payload(api_url: str, session_id: str, project_id: str, state: str,
                      actions_at: Optional[str] = None, reply_at: Optional[str] = None,
                      metadata: Optional[dict] = None, instance_id: Optional[str] = None) -> dict:
    """The ``maintenance.scheduled`` payload for one project, or for one of its instances.

    Instances travel as the URL listing them, because AODH keeps trait values
    short; only INSTANCE_ACTION_DONE names its one instance (and asks nothing).
    With ``instance_id``, PREPARE_MAINTENANCE and PLANNED_MAINTENANCE ask about
    that one instance as Fenix's vnf workflow does: ``instance_ids`` is the
    one-element list and ``reply_url`` the instance's own URL.
    """
    if state not in PROJECT_STATES:
        raise NotifyError("state: %r is not sent to projects; use one of %s" % (state, ", ".join(PROJECT_STATES)))
    url = project_url(api_url, session_id, project_id)
    payload = {
        "service": SERVICE,
        "project_id": project_id,
        "session_id": session_id,
        "state": state,
        "instance_ids": url,
        "allowed_actions": allowed_actions_for(state),
        "actions_at": actions_at,
        "reply_at": reply_at,
        "metadata": dict(metadata or {}),
        "reply_url": url,
    }
    if state == INSTANCE_ACTION_DONE:
        if not instance_id:
            raise NotifyError("instance_id: INSTANCE_ACTION_DONE names the instance the action was done on")
        payload.update(instance_ids=[instance_id], actions_at=None, reply_at=None, metadata={})
    elif instance_id is not None:
        if state not in STATES_WITH_ACTIONS:
            raise NotifyError("instance_id: %s is asked per project; only %s are asked per instance"
                              % (state, " and ".join(STATES_WITH_ACTIONS)))
        payload.update(instance_ids=[instance_id], reply_url=instance_url(api_url, session_id, project_id, instance_id))
    return payload


def asked_per_instance(workflow: str, state: str) -> bool:
    """Whether a session of ``workflow`` asks ``state`` per instance (the vnf workflow's PREPARE and PLANNED)."""
    return workflow == VNF_WORKFLOW and state in STATES_WITH_ACTIONS


def host_payload(session_id: str, host: str, state: str, project_id: str) -> dict:
    """The admin ``maintenance.host`` payload; ``project_id`` is the admin's own project."""
    if state not in HOST_STATES:
        raise NotifyError("host_state: %r is not a host state; use one of %s" % (state, ", ".join(HOST_STATES)))
    return {"service": SERVICE, "host": host, "state": state, "session_id": session_id, "project_id": project_id}


@dataclass
class Notification:
    """One event for one project; ``project_id`` routes it (the payload's own project_id)."""

    event_type: str
    payload: dict
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timestamp: datetime = field(default_factory=utc_datetime)

    @property
    def project_id(self) -> str:
        return self.payload["project_id"]


# ---------------------------------------------------------------- bus

def oslo_message(notification: Notification) -> dict:
    """The notification as oslo.messaging's Notifier builds it (notify/notifier.py ``_notify``).

    The context is empty: oslo drops a plain dict context before sending
    (``_sanitize_context``), so Fenix's notifications carry no ``_context_*`` keys either.
    """
    return {
        "message_id": notification.message_id,
        "publisher_id": PUBLISHER_ID,
        "event_type": notification.event_type,
        "priority": PRIORITY,
        "payload": notification.payload,
        # str(timeutils.utcnow()): naive UTC with microseconds
        "timestamp": str(notification.timestamp.astimezone(timezone.utc).replace(tzinfo=None)),
        # the amqp driver adds it so that listeners can drop duplicates
        "_unique_id": uuid.uuid5(uuid.NAMESPACE_URL, notification.message_id).hex,
    }


def oslo_envelope(notification: Notification) -> dict:
    """The 2.0 envelope of the ``messagingv2`` driver (_drivers/common.py ``serialize_msg``)."""
    return {"oslo.version": "2.0", "oslo.message": json.dumps(oslo_message(notification))}


def routing_key(topic: str) -> str:
    """oslo's messaging driver publishes on ``<topic>.<priority>``."""
    return "%s.%s" % (topic, PRIORITY.lower())


def redact_url(url: str) -> str:
    """A transport URL without its passwords (every host of a multi-host URL)."""
    return re.sub(r"(?<=[/,])([^:/@,]*):[^@/,]*@", r"\1:***@", url)


def kombu_url(transport_url: str) -> Tuple[str, bool]:
    """kombu's failover URL (``amqp://...;amqp://...``) and whether to use TLS.

    oslo's ``rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost`` lists
    hosts separated by commas, each with its credentials; kombu wants one URL per host.
    """
    parts = urlsplit(transport_url)
    if parts.scheme not in ("rabbit", "amqp"):
        raise NotifyError("bus.transport_url: scheme %r is not supported; give the cloud's RabbitMQ"
                          " transport_url (rabbit://user:password@host:5672/vhost)" % parts.scheme)
    if not parts.netloc:
        raise NotifyError("bus.transport_url: no host in %s; write rabbit://user:password@host:5672/vhost"
                          % redact_url(transport_url))
    query = parse_qs(parts.query)
    use_ssl = query.get("ssl", ["0"])[-1].lower() in ("1", "true", "yes")
    vhost = parts.path or "/"
    urls = ["amqp://%s%s" % (host, vhost) for host in parts.netloc.split(",")]
    return ";".join(urls), use_ssl


def require_urllib3() -> None:
    if urllib3 is None:
        raise NotifyError("webhook: posting to webhooks needs the Python package urllib3"
                          " (pip install urllib3; openstacksdk installs it): %s" % URLLIB3_IMPORT_ERROR)


def require_kombu() -> None:
    if not HAS_KOMBU:
        raise NotifyError("bus: publishing on the message bus needs the Python package kombu"
                          " (pip install kombu): %s" % KOMBU_IMPORT_ERROR)


class BusTransport:
    """Publishes notifications on the exchange and topic oslo.messaging's notifier would use.

    The exchange is declared as oslo declares it (topic type, not durable, not
    auto-deleted); like oslo, a queue named after the routing key is bound to
    it, so notifications wait there for Ceilometer rather than vanish.
    """

    name = "bus"

    def __init__(self, transport_url: str, exchange: str = DEFAULT_EXCHANGE, topic: str = DEFAULT_TOPIC,
                 timeout: float = 10.0, retries: int = 3,
                 connection_factory: Optional[Callable[[], object]] = None) -> None:
        self.display = redact_url(transport_url)
        self.exchange_name = exchange
        self.routing_key = routing_key(topic)
        self.timeout = timeout
        self.retries = retries
        if connection_factory is None:
            url, use_ssl = kombu_url(transport_url)
            connection_factory = self._factory(url, use_ssl)
        self.connection_factory = connection_factory

    def _factory(self, url: str, use_ssl: bool) -> Callable[[], object]:
        def connect():
            require_kombu()
            # confirm_publish: a publish returns once the broker has the message,
            # so "delivered" in the result means RabbitMQ took it.
            return kombu.Connection(url, ssl=use_ssl, connect_timeout=self.timeout,
                                    transport_options={"confirm_publish": True})
        return connect

    def publish(self, notifications: List[Notification]) -> Dict[str, dict]:
        """Publish them all on one connection; message_id -> {ok, error, ...}."""
        if not notifications:
            return {}
        where = {"exchange": self.exchange_name, "routing_key": self.routing_key, "transport_url": self.display}
        try:
            with self.connection_factory() as connection:
                connection.ensure_connection(max_retries=self.retries, timeout=self.timeout)
                channel, exchange = self._declare(connection)
                producer = kombu.Producer(channel, exchange=exchange, serializer="json", auto_declare=False)
                for notification in notifications:
                    producer.publish(oslo_envelope(notification), routing_key=self.routing_key,
                                     retry=True, retry_policy={"max_retries": self.retries})
        except NotifyError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            # kombu raises the transport's own errors (socket, amqp, timeouts): all mean "not delivered".
            error = "cannot publish on %s: %s" % (self.display, exc)
            return {n.message_id: dict(where, ok=False, error=error) for n in notifications}
        return {n.message_id: dict(where, ok=True, error=None) for n in notifications}

    def _declare(self, connection):
        channel = connection.channel()
        exchange = kombu.Exchange(self.exchange_name, type="topic", durable=False, auto_delete=False)
        try:
            exchange(channel).declare()
        except connection.channel_errors as exc:
            if "durable" not in str(exc):
                raise
            # Someone (a service with amqp_durable_queues) declared it durable: use it as it is.
            channel = connection.channel()
            exchange = kombu.Exchange(self.exchange_name, type="topic", durable=True, auto_delete=False)
            exchange(channel).declare()
        channel = self._bind_default_queue(connection, channel, exchange)
        return channel, exchange

    def _bind_default_queue(self, connection, channel, exchange):
        queue = kombu.Queue(self.routing_key, exchange, routing_key=self.routing_key,
                            durable=exchange.durable, auto_delete=False)
        try:
            queue(channel).declare()
        except connection.channel_errors:
            # The queue exists with other arguments (quorum, TTL): bind it as it is.
            channel = connection.channel()
            channel.queue_bind(queue=self.routing_key, exchange=self.exchange_name, routing_key=self.routing_key)
        return channel


# ---------------------------------------------------------------- webhook

def trait(name: str, value) -> Optional[list]:
    """A Ceilometer event trait ``[name, type, value]``; None when Ceilometer would drop it."""
    if value is None:
        return None
    if name in DATETIME_TRAITS:
        moment = parse_time(value) if isinstance(value, str) else value
        return [name, 4, moment.replace(tzinfo=None).isoformat()]
    if isinstance(value, bool):
        return [name, 1, str(value)]
    if isinstance(value, int):
        return [name, 2, value]
    if isinstance(value, float):
        return [name, 3, value]
    if isinstance(value, (list, dict)):
        return [name, 1, python_literal(value)]
    return [name, 1, str(value)]


def python_literal(value) -> str:
    """A list or dict as the text AODH delivers it: Ceilometer stores such traits as their Python repr.

    Clients written for Fenix decode that form: Tacker with eval(), Doctor
    with yaml (``"['MIGRATE', 'LIVE_MIGRATE']"`` is a YAML flow sequence too);
    JSON text (double quotes, null, true) would break eval. Dict keys are
    sorted so that one payload always gives one text.
    """
    if isinstance(value, dict):
        return repr(dict(sorted(value.items())))
    return repr(value)


def event_traits(payload: dict) -> List[list]:
    return [item for item in (trait(name, payload[name]) for name in sorted(payload)) if item is not None]


@dataclass
class WebhookTarget:
    """Where a project's notifications go, and the AODH alarm that named it (if any)."""

    url: str
    alarm_id: str
    alarm_name: str


def configured_target(project_id: str, url: str, event_type: str) -> WebhookTarget:
    # No real alarm: a stable ID so that a VNFM keying on alarm_id sees one alarm per URL.
    alarm_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "%s %s" % (project_id, url)))
    return WebhookTarget(url, alarm_id, "fenix.maintenance %s" % event_type)


def aodh_body(notification: Notification, target: WebhookTarget) -> dict:
    """The body aodh-notifier POSTs when an event alarm fires (aodh/notifier/rest.py).

    ``message_signature`` is a digest of the event, not Ceilometer's HMAC
    (which needs the cloud's telemetry secret); VNFMs do not check it.
    """
    event = {
        "message_id": notification.message_id,
        "event_type": notification.event_type,
        "generated": notification.timestamp.astimezone(timezone.utc).replace(tzinfo=None).isoformat(),
        "traits": event_traits(notification.payload),
        "raw": {},
    }
    event["message_signature"] = hashlib.sha256(json.dumps(event, sort_keys=True).encode("utf-8")).hexdigest()
    return {
        "alarm_id": target.alarm_id,
        "alarm_name": target.alarm_name,
        "severity": "low",
        "previous": "alarm",
        "current": "alarm",
        "reason": "Event <id=%s,event_type=%s> hits the query <query=[]>."
                  % (notification.message_id, notification.event_type),
        "reason_data": {"type": "event", "event": event},
    }


# Network errors, timeouts, 5xx, 408 and 429 may pass later; other answers will not.
RETRIED_STATUSES = frozenset([408, 429] + list(range(500, 600)))


class WebhookRetry(Retry):
    """urllib3's Retry with the webhook's backoff: ``retry_delay``, then twice as long at each retry.

    urllib3 waits nothing before the first retry and caps the wait; the
    webhook always waited from the first retry on, uncapped. ``pause`` is
    the transport's sleep, carried to each retry's new Retry.
    """

    pause: Callable[[float], None] = staticmethod(time.sleep)

    def new(self, **kwargs) -> "WebhookRetry":
        retry = super().new(**kwargs)
        retry.pause = self.pause
        return retry

    def get_backoff_time(self) -> float:
        return self.backoff_factor * 2 ** (len(self.history) - 1) if self.history else 0.0

    def sleep(self, response=None) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            self.pause(backoff)


def webhook_retry(retries: int, retry_delay: float, sleep: Callable[[float], None] = time.sleep) -> "WebhookRetry":
    """Up to ``retries`` more attempts on any error or a retried status; redirects are answers, not followed."""
    require_urllib3()
    retry = WebhookRetry(total=retries, redirect=False, status_forcelist=RETRIED_STATUSES, allowed_methods=None,
                         backoff_factor=retry_delay, raise_on_status=False, respect_retry_after_header=False)
    retry.pause = sleep
    return retry


def http_post_json(url: str, body: dict, timeout: float, retry: Optional["WebhookRetry"] = None, pool=None):
    """POST ``body`` as JSON, retried as ``retry`` says (once if None); the last answer, an error status included.

    Raises urllib3's MaxRetryError when no attempt got an answer. HTTPS
    verifies the certificate with the system's CAs, as urllib3 does by default.
    """
    require_urllib3()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotifyError("webhook: %r is not an http or https URL" % url)
    response = (pool or urllib3.PoolManager(cert_reqs="CERT_REQUIRED")).request(
        "POST", url, body=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json", "x-openstack-request-id": "req-%s" % uuid.uuid4()},
        retries=retry if retry is not None else webhook_retry(0, 0.0), redirect=False, timeout=timeout,
        preload_content=False)
    response.drain_conn()  # only the status counts
    return response


class WebhookTransport:
    """POSTs each notification to its project's URLs, with retries and exponential backoff (urllib3's Retry)."""

    name = "webhook"

    def __init__(self, targets: Dict[str, List[WebhookTarget]], retries: int = 3, retry_delay: float = 1.0,
                 timeout: float = 10.0, sleep: Callable[[float], None] = time.sleep,
                 once: Optional[Set[str]] = None) -> None:
        self.targets = targets
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.sleep = sleep
        self.once = once or set()  # projects posted to once, without retries

    def publish(self, notifications: List[Notification]) -> Dict[str, dict]:
        require_urllib3()
        results = {}
        pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED")  # one connection per URL for all the notifications
        for notification in notifications:
            targets = self.targets.get(notification.project_id, [])
            retries = 0 if notification.project_id in self.once else self.retries
            posts = [self.post_one(target, aodh_body(notification, target), pool, retries) for target in targets]
            error = None
            if not targets:
                error = ("no webhook URL for project %s; add it to webhook.urls or let the project create"
                         " an AODH event alarm for %s" % (notification.project_id, notification.event_type))
            elif not any(item["ok"] for item in posts):
                error = "; ".join("%s: %s" % (item["url"], item["error"]) for item in posts)
            results[notification.message_id] = {"ok": error is None, "error": error, "posts": posts}
        pool.clear()
        return results

    def post_one(self, target: WebhookTarget, body: dict, pool=None, retries: Optional[int] = None) -> dict:
        retries = self.retries if retries is None else retries
        try:
            response = http_post_json(target.url, body, self.timeout,
                                      webhook_retry(retries, self.retry_delay, self.sleep), pool)
            status, attempts = response.status, len(response.retries.history) + 1
            error = None if 200 <= status < 300 else "HTTP %d" % status
        except urllib3.exceptions.MaxRetryError as exc:  # refused, unreachable, timed out, cut off: each time
            status, attempts, error = None, retries + 1, str(exc.reason or exc)
        except urllib3.exceptions.HTTPError as exc:  # raised before any request went out (a URL urllib3 refuses)
            status, attempts, error = None, 1, str(exc) or type(exc).__name__
        return {"url": target.url, "alarm_id": target.alarm_id, "ok": error is None, "status": status,
                "attempts": attempts, "error": error}


def url_list(value) -> List[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    raise NotifyError("webhook.urls: each project maps to a URL or a list of URLs, not %r" % (value,))


def configured_targets(urls: Dict[str, object], event_type: str) -> Dict[str, List[WebhookTarget]]:
    return {project_id: [configured_target(project_id, url, event_type) for url in url_list(value)]
            for project_id, value in (urls or {}).items()}


def check_webhook_urls(urls: Dict[str, object]) -> None:
    """Refuse a URL no POST can go to before anything is recorded: that is the operator's to fix, not a VNFM down."""
    for project_id, value in (urls or {}).items():
        for url in url_list(value):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise NotifyError("webhook.urls.%s: %r is not an http or https URL; give the VNFM's URL as"
                                  " http(s)://host[:port]/path" % (project_id, url))


# ---------------------------------------------------------------- AODH discovery

def list_event_alarms(conn, interface: Optional[str] = None) -> List[dict]:
    """Every project's AODH event alarms (admin credentials).

    Newer AODH shows an admin only its own project's alarms unless asked for
    ``all_projects``; older AODH refuses that unknown field with 400 and shows all.
    """
    endpoint = conn.endpoint_for("alarming", interface=interface)
    if not endpoint:
        raise NotifyError("webhook.discover_from_aodh: the cloud's catalog has no alarming (AODH) service;"
                          " give the projects' URLs in webhook.urls instead")
    url = endpoint.rstrip("/") + "/v2/alarms"
    query = [("q.field", "type"), ("q.op", "eq"), ("q.value", "event")]
    every_project = [("q.field", "all_projects"), ("q.op", "eq"), ("q.value", "true")]
    response = conn.session.get(url, params=query + every_project, raise_exc=False)
    if response.status_code == 400:
        response = conn.session.get(url, params=query, raise_exc=False)
    if response.status_code != 200:
        raise NotifyError("webhook.discover_from_aodh: listing AODH alarms at %s failed with HTTP %s"
                          % (url, response.status_code))
    return response.json()


def discovered_targets(alarms: List[dict], project_ids: List[str], event_type: str) -> Dict[str, List[WebhookTarget]]:
    """The http(s) alarm actions of the projects' enabled event alarms matching ``event_type``.

    AODH event types may be patterns (``maintenance.*``). ``trust+http`` actions
    need a Keystone trust to call and are left out.
    """
    wanted = set(project_ids)
    targets: Dict[str, List[WebhookTarget]] = {}
    for alarm in alarms:
        rule = alarm.get("event_rule") or {}
        if (alarm.get("type") != "event" or not alarm.get("enabled", True)
                or alarm.get("project_id") not in wanted
                or not fnmatch.fnmatchcase(event_type, rule.get("event_type") or "*")):
            continue
        for url in alarm.get("alarm_actions") or []:
            if urlsplit(url).scheme in ("http", "https"):
                targets.setdefault(alarm["project_id"], []).append(
                    WebhookTarget(url, alarm.get("alarm_id"), alarm.get("name")))
    return targets


# ---------------------------------------------------------------- sending, with the journal

def notify_argument_spec() -> dict:
    """The options every module that sends notifications shares (doc fragment fenix.maintenance.notify)."""
    return dict(
        api_url=dict(),
        reply_timeout=dict(type="int", default=120),
        metadata=dict(type="dict"),
        bus=dict(type="dict", options=dict(
            transport_url=dict(required=True, no_log=True),
            exchange=dict(default=DEFAULT_EXCHANGE),
            topic=dict(default=DEFAULT_TOPIC),
            timeout=dict(type="float", default=10),
            retries=dict(type="int", default=3),
        )),
        webhook=dict(type="dict", options=dict(
            urls=dict(type="dict", default={}),
            discover_from_aodh=dict(type="bool", default=False),
            retries=dict(type="int", default=3),
            retry_delay=dict(type="float", default=1),
            timeout=dict(type="float", default=10),
        )),
    )


@dataclass
class ProjectAsk:
    """What one project is asked: the state, its instances, when to act and answer."""

    project_id: str
    state: str
    instance_ids: List[str]
    allowed_actions: List[str]
    actions_at: Optional[str]
    reply_at: Optional[str]
    hosts: Dict[str, Optional[str]] = field(default_factory=dict)  # instance -> host, when known
    names: Dict[str, str] = field(default_factory=dict)  # instance -> server name, when known


class Notifier:
    """Records asks in the journal, then sends them on every configured transport.

    ``params`` are the module options of ``notify_argument_spec``; ``conn`` is
    opened only when needed (catalog lookups, AODH discovery).
    """

    def __init__(self, journal: Optional[Journal], params: dict, conn_factory: Callable[[], object],
                 now: Callable[[], datetime] = utc_datetime, sleep=time.sleep,
                 bus_connection=None) -> None:
        self.journal = journal
        self.params = params
        self.conn_factory = conn_factory
        self.now = now
        self.sleep = sleep
        self.bus_connection = bus_connection
        if not params.get("bus") and not params.get("webhook"):
            raise NotifyError("bus, webhook: give at least one transport (the cloud's message bus, or webhook URLs)")
        if params.get("bus"):
            kombu_url(params["bus"]["transport_url"])  # refuse a bad URL before anything is recorded
        if params.get("webhook"):
            check_webhook_urls(params["webhook"].get("urls"))

    # what to send
    def api_url(self) -> str:
        """The API endpoint projects reply to: the option, else the catalog's ``maintenance`` service."""
        if self.params.get("api_url"):
            return self.params["api_url"]
        endpoint = self.conn_factory().endpoint_for("maintenance")
        if not endpoint:
            raise NotifyError("api_url: not given and the catalog has no maintenance service; give the"
                              " Fenix API endpoint the projects reach, ending in /v1 (http://host:12347/v1)")
        return endpoint

    def reply_at(self) -> str:
        return fenix_time(self.now() + timedelta(seconds=self.params.get("reply_timeout") or 0))

    def project_notification(self, session, ask: ProjectAsk, api_url: str,
                             instance_id: Optional[str] = None) -> Notification:
        metadata = self.params.get("metadata")
        payload = scheduled_payload(api_url, session.session_id, ask.project_id, ask.state,
                                    ask.actions_at, ask.reply_at,
                                    session.metadata if metadata is None else metadata, instance_id)
        return Notification(SCHEDULED, payload, timestamp=self.now())

    def ask_notifications(self, session, ask: ProjectAsk, api_url: str,
                          instance_ids: Optional[List[str]] = None) -> List[Notification]:
        """The notifications that carry one ask: one for the project, or in a vnf session's
        PREPARE/PLANNED one per instance (``instance_ids``, by default every instance of the ask).

        An ask that names no instance is sent per project whatever the
        workflow: there is no instance to ask about on its own.
        """
        if not asked_per_instance(session.workflow, ask.state) or not ask.instance_ids:
            return [self.project_notification(session, ask, api_url)]
        return [self.project_notification(session, ask, api_url, instance_id)
                for instance_id in (ask.instance_ids if instance_ids is None else instance_ids)]

    # recording
    def record(self, session_id: str, asks: List[ProjectAsk], names: Optional[Dict[str, str]] = None) -> None:
        """Instances first, then the ask: a project never appears asked about instances the journal lacks.

        ``names`` (project id -> name) and the asks' server names are kept for the run report.
        """
        for ask in asks:
            for instance_id in ask.instance_ids:
                name = ask.names.get(instance_id)
                self.journal.set_instance(session_id, instance_id, ask.project_id, host=ask.hosts.get(instance_id),
                                          details={"name": name} if name else None)
            self.journal.notify_project(session_id, ask.project_id, ask.state, ask.instance_ids,
                                        ask.allowed_actions, ask.actions_at, ask.reply_at)
            if (names or {}).get(ask.project_id):
                self.journal.record_event(session_id, "project.named", project_id=ask.project_id,
                                          details={"project_name": names[ask.project_id]})

    def project_names(self, session_id: str, asks: List[ProjectAsk]) -> Dict[str, str]:
        """Project id -> name of the projects this session asks for the first time, from one Keystone list.

        A project is named once per session: later states and batches ask the
        same projects again and would list Keystone and log the name each time.
        Asks about projects the operator named need no cloud connection, so they
        get no names. A cloud that hides its projects from this user gives none
        either; the report then shows the ids alone.
        """
        asked_before = {record.project_id for record in self.journal.projects(session_id)}
        first_asked = {ask.project_id for ask in asks if ask.hosts and ask.project_id not in asked_before}
        if not first_asked:
            return {}
        return {project_id: name for project_id, name in project_names(self.conn_factory()).items()
                if project_id in first_asked}

    # sending
    def transports(self, notifications: List[Notification], once: Optional[Set[str]] = None) -> list:
        transports = []
        bus = self.params.get("bus")
        if bus:
            transports.append(BusTransport(bus["transport_url"], bus["exchange"], bus["topic"], bus["timeout"],
                                           bus["retries"], connection_factory=self.bus_connection))
        webhook = self.params.get("webhook")
        if webhook:
            transports.append(WebhookTransport(self.webhook_targets(notifications), webhook["retries"],
                                               webhook["retry_delay"], webhook["timeout"], self.sleep, once))
        return transports

    def webhook_targets(self, notifications: List[Notification]) -> Dict[str, List[WebhookTarget]]:
        """Configured URLs per project; AODH's alarm actions for the projects without one."""
        webhook = self.params["webhook"]
        event_type = notifications[0].event_type if notifications else SCHEDULED
        targets = configured_targets(webhook.get("urls"), event_type)
        missing = sorted({n.project_id for n in notifications} - set(targets))
        if webhook.get("discover_from_aodh") and missing:
            conn = self.conn_factory()
            interface = getattr(getattr(conn, "config", None), "interface", None)
            alarms = list_event_alarms(conn, interface)
            targets.update(discovered_targets(alarms, missing, event_type))
        return targets

    def send(self, notifications: List[Notification], once: Optional[Set[str]] = None) -> List[dict]:
        """Each notification with its delivery per transport; ``delivered`` when any transport took it.

        An ask no transport delivered carries ``unreachable`` (why); sending
        never fails for it: the silent policy decides for such a project. A
        project asked per instance (vnf workflow) is unreachable when none of
        its asks arrived, and only its first ask says so.
        The webhooks of the projects in ``once`` get one attempt, no retries.
        """
        deliveries = {n.message_id: {} for n in notifications}
        for transport in self.transports(notifications, once):
            for message_id, outcome in transport.publish(notifications).items():
                deliveries[message_id][transport.name] = outcome
        sent = [{
            "project_id": n.project_id,
            "event_type": n.event_type,
            "message_id": n.message_id,
            "payload": n.payload,
            "delivered": any(outcome["ok"] for outcome in deliveries[n.message_id].values()),
            "deliveries": deliveries[n.message_id],
            "unreachable": None,
        } for n in notifications]
        for item in first_ask_of_unreached_projects(sent):
            item["unreachable"] = self.why_unreachable(item)
        return sent

    def why_unreachable(self, item: dict) -> dict:
        """Why no transport reached the project of an undelivered ask: it has no VNFM, or its VNFM did not take it."""
        webhook = item["deliveries"].get("webhook")
        if "bus" not in item["deliveries"] and (webhook is None or not webhook.get("posts")):
            return {"reason": NO_VNFM, "why": self.no_vnfm_why()}
        return {"reason": UNDELIVERED, "why": delivery_errors(item)}

    def no_vnfm_why(self) -> str:
        aodh = (self.params.get("webhook") or {}).get("discover_from_aodh")
        return "no webhook URL%s and no bus: a project without a VNFM" % (", no AODH event alarm" if aodh else "")

    def predict_unreachable(self, notifications: List[Notification]) -> Dict[str, dict]:
        """Check mode: the asked projects no configured transport would reach (no bus, no webhook URL or alarm).

        A webhook that would refuse the POST cannot be known without posting.
        """
        asks = [n for n in notifications if is_ask(n)]
        if self.params.get("bus") or not asks:
            return {}
        targets = self.webhook_targets(asks) if self.params.get("webhook") else {}
        first = {}
        for n in asks:
            first.setdefault(n.project_id, n.message_id)
        return {message_id: {"reason": NO_VNFM, "why": self.no_vnfm_why()}
                for project_id, message_id in first.items() if not targets.get(project_id)}

    def record_deliveries(self, session_id: str, sent: List[dict], reminder: bool = False) -> None:
        """The outcome in the event log: the journal says what was asked, this says whether it arrived.

        An ask that reached nobody also logs ``project.unreachable`` with why,
        which the reply wait, the summary and the report read.
        """
        for item in sent:
            kind = "notification.delivered" if item["delivered"] else "notification.failed"
            errors = {name: outcome["error"] for name, outcome in item["deliveries"].items() if outcome["error"]}
            state = item["payload"]["state"]
            self.journal.record_event(session_id, kind, project_id=item["project_id"],
                                      details={"event_type": item["event_type"], "state": state,
                                               "message_id": item["message_id"], "errors": errors})
            if item.get("unreachable"):
                self.journal.record_event(session_id, UNREACHABLE_EVENT, project_id=item["project_id"],
                                          details=dict(item["unreachable"], state=state, reminder=reminder,
                                                       message_id=item["message_id"]))

    def ask_and_send(self, session, asks: List[ProjectAsk], check_mode: bool = False) -> List[dict]:
        """Record the asks, then send them; in check mode only build what would be sent."""
        if not asks:
            return []
        api_url = self.api_url()
        notifications = [n for ask in asks for n in self.ask_notifications(session, ask, api_url)]
        if check_mode:
            unreachable = self.predict_unreachable(notifications)
            return [preview(n, unreachable.get(n.message_id)) for n in notifications]
        once = self.unreachable_before(session, asks)
        self.record(session.session_id, asks, self.project_names(session.session_id, asks))
        sent = self.send(notifications, once)
        self.record_deliveries(session.session_id, sent)
        return sent

    def unreachable_before(self, session, asks: List[ProjectAsk]) -> Set[str]:
        """With decide_at_once, the projects the policy decided for at their last ask, which nothing reached then.

        Their answer will be the policy's at once, so their webhooks get one
        attempt: retries (with a webhook that times out, the retries times the
        timeout) would cost at every later ask what silence no longer costs.
        """
        if session.silent_projects != DECIDE_AT_ONCE:
            return set()
        history = ask_history(self.journal.events(session.session_id))
        asked = {ask.project_id for ask in asks}
        return {project_id for project_id, past in history.items() if project_id in asked
                and past[-1].unreachable and past[-1].decided_by == POLICY}

    def remind(self, session, projects) -> List[dict]:
        """Send the same ask again to silent projects (journal ProjectRecords), with a new reply deadline.

        A project that answers meanwhile is not reminded (the journal refuses
        to count a reminder once a reply is there). A project asked per
        instance (vnf workflow) is asked again about the instances that have not answered.
        """
        api_url = self.api_url()
        reply_at = self.reply_at()
        notifications = []
        for project in projects:
            if self.journal.renotify_project(session.session_id, project.project_id, reply_at) is not None:
                ask = ProjectAsk(project.project_id, project.state, project.instance_ids,
                                 project.allowed_actions, project.actions_at, reply_at)
                notifications.extend(self.ask_notifications(session, ask, api_url,
                                                            self.unanswered(session.session_id, ask)))
        sent = self.send(notifications)
        self.record_deliveries(session.session_id, sent, reminder=True)
        return sent

    def unanswered(self, session_id: str, ask: ProjectAsk) -> List[str]:
        """The instances of an ask that have not answered it on their own URL."""
        answered = {record.instance_id for record in self.journal.instances(session_id, ask.project_id)
                    if record.reply is not None}
        return [instance_id for instance_id in ask.instance_ids if instance_id not in answered]

    def announce_instance_done(self, session_id: str, project_id: str, instance_id: str, check_mode: bool = False,
                               api_url: Optional[str] = None) -> List[dict]:
        """Tell the project that the action on its instance is done (INSTANCE_ACTION_DONE)."""
        payload = scheduled_payload(api_url or self.api_url(), session_id, project_id, INSTANCE_ACTION_DONE,
                                    instance_id=instance_id)
        notification = Notification(SCHEDULED, payload, timestamp=self.now())
        return self.announce(session_id, notification, check_mode, instance_id=instance_id)

    def announce(self, session_id: str, notification: Notification, check_mode: bool = False,
                 **event_fields) -> List[dict]:
        """Record and send a notification that asks nothing (INSTANCE_ACTION_DONE, maintenance.host)."""
        if check_mode:
            return [preview(notification)]
        self.journal.record_event(session_id, "%s.notified" % ("host" if event_fields.get("host") else "project"),
                                  project_id=notification.project_id,
                                  details={"event_type": notification.event_type,
                                           "state": notification.payload["state"]}, **event_fields)
        sent = self.send([notification])
        self.record_deliveries(session_id, sent)
        return sent


def preview(notification: Notification, unreachable: Optional[dict] = None) -> dict:
    """What would be sent (check mode): the notification, with no delivery, and whether nobody would take it."""
    return {"project_id": notification.project_id, "event_type": notification.event_type,
            "message_id": notification.message_id, "payload": notification.payload,
            "delivered": False, "deliveries": {}, "unreachable": unreachable}


def is_ask(notification: Notification) -> bool:
    """A notification that asks a project for an answer (not INSTANCE_ACTION_DONE, not maintenance.host)."""
    return is_ask_payload(notification.event_type, notification.payload)


def is_ask_payload(event_type: str, payload: dict) -> bool:
    return event_type == SCHEDULED and payload["state"] != INSTANCE_ACTION_DONE


def first_ask_of_unreached_projects(sent: List[dict]) -> List[dict]:
    """The first undelivered ask of each project none of whose asks was delivered."""
    reached = {item["project_id"] for item in sent if item["delivered"]}
    first: Dict[str, dict] = {}
    for item in sent:
        if item["project_id"] not in reached and is_ask_payload(item["event_type"], item["payload"]):
            first.setdefault(item["project_id"], item)
    return list(first.values())


def undelivered(sent: List[dict]) -> List[dict]:
    return [item for item in sent if not item["delivered"]]


def delivery_errors(item: dict) -> str:
    """What each transport said about a notification it did not deliver, webhook attempts included."""
    errors = []
    for name, outcome in sorted(item["deliveries"].items()):
        posts = outcome.get("posts")
        if posts:
            errors.extend("webhook %s: %s after %d attempt%s" % (post["url"], post["error"], post["attempts"],
                                                                 "" if post["attempts"] == 1 else "s")
                          for post in posts if post["error"])
        elif outcome.get("error"):
            errors.append("%s: %s" % (name, outcome["error"]))
    return "; ".join(errors)


def unreachable_projects(sent: List[dict]) -> List[dict]:
    """The asked projects no transport reached (or would reach, in check mode), each with the state and why."""
    return [dict(item["unreachable"], project_id=item["project_id"], state=item["payload"]["state"])
            for item in sent if item.get("unreachable")]


def undelivered_warning(failed: List[dict], limit: int = 10) -> str:
    """One warning for the notifications no transport delivered (the first ``limit`` named)."""
    named = "; ".join("project %s (%s)" % (item["project_id"], delivery_errors(item)) for item in failed[:limit])
    more = " and %d more" % (len(failed) - limit) if len(failed) > limit else ""
    return "no transport delivered the notification to %s%s" % (named, more)


# ---------------------------------------------------------------- who is asked

def asks_from_servers(servers, hosts: List[str], state: str, actions_at: Optional[str],
                      reply_at: Optional[str]) -> List[ProjectAsk]:
    """One ask per project with servers on ``hosts``, naming those servers."""
    by_project: Dict[str, ProjectAsk] = {}
    for server in servers:
        if server.compute_host not in hosts:
            continue
        ask = by_project.setdefault(server.project_id, ProjectAsk(
            server.project_id, state, [], allowed_actions_for(state), actions_at, reply_at))
        ask.instance_ids.append(server.id)
        ask.hosts[server.id] = server.compute_host
        if server.name:
            ask.names[server.id] = server.name
    for ask in by_project.values():
        ask.instance_ids.sort()
    return [by_project[project_id] for project_id in sorted(by_project)]


def asks_from_list(projects: List[dict], state: str, actions_at: Optional[str],
                   reply_at: Optional[str]) -> List[ProjectAsk]:
    """Asks for projects the operator named (``[{project_id, instance_ids}]``)."""
    return [ProjectAsk(item["project_id"], state, sorted(item.get("instance_ids") or []),
                       allowed_actions_for(state), actions_at, reply_at)
            for item in sorted(projects, key=lambda item: item["project_id"])]


def split_kept_asks(asks: List[ProjectAsk], records: Dict[str, ProjectRecord],
                    since: datetime) -> Tuple[List[ProjectAsk], List[ProjectRecord]]:
    """The asks still to send, and the projects whose ask made at or after ``since`` stands for theirs.

    A project's ask stands when it was about the same state and named every instance the new ask names:
    asked again, the project would lose the answer it may have given already. One instance more (a
    server that arrived on the hosts since) and the project is asked again about all of them.
    """
    send, kept = [], []
    for ask in asks:
        record = records.get(ask.project_id)
        if (record is not None and record.state == ask.state and parse_time(record.notified_at) >= since
                and set(ask.instance_ids) <= set(record.instance_ids)):
            kept.append(record)
        else:
            send.append(ask)
    return send, kept


def default_actions_at(state: str, maintenance_at: Optional[str], reply_at: str) -> str:
    """When actions start: the session's maintenance_at for MAINTENANCE (if later), else the reply deadline."""
    if state == MAINTENANCE and maintenance_at:
        try:
            start, deadline = parse_time(maintenance_at), parse_time(reply_at)
        except ValueError as exc:
            raise NotifyError(str(exc)) from exc
        if start > deadline:
            return fenix_time(start)
    return reply_at
