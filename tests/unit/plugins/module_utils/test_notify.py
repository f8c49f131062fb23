import ipaddress
import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import kombu
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.fenix.maintenance.plugins.module_utils.notify import notifier as notify
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import (
    BusTransport,
    Notification,
    NotifyError,
    WebhookTarget,
    WebhookTransport,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from webhook_server import HANG_UP, WebhookServer

API = "http://127.0.0.1:12347/v1"
WHEN = datetime(2026, 12, 1, 2, 0, 0, 123456, tzinfo=timezone.utc)


def test_host_id_is_novas():
    # The hostId Nova's API showed for server d98cecd7 of this project on compute1 in the test cloud.
    assert notify.host_id("fc9628a8089441e9af02942f29e0072c", "compute1") == \
        "2ac38b3bb82e1f3b3f41239117014432cba7df65e0ffa7f9fff2590e"
    assert notify.host_id("p1", "compute1") != notify.host_id("p2", "compute1")
    assert notify.host_id("p1", None) == ""


@pytest.mark.parametrize("state, actions", [
    ("MAINTENANCE", []), ("SCALE_IN", []), ("MAINTENANCE_COMPLETE", []),
    ("PREPARE_MAINTENANCE", ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"]),
    ("PLANNED_MAINTENANCE", ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"]),
])
def test_project_payload_lists_instances_as_the_reply_url(state, actions):
    payload = notify.scheduled_payload(API + "/", "s1", "p1", state, "2026-12-01 02:00:00",
                                       "2026-12-01 01:00:00", {"release": "2026.2"})
    url = "http://127.0.0.1:12347/v1/maintenance/s1/p1"
    assert payload == {
        "service": "fenix", "project_id": "p1", "session_id": "s1", "state": state,
        "instance_ids": url, "allowed_actions": actions, "actions_at": "2026-12-01 02:00:00",
        "reply_at": "2026-12-01 01:00:00", "metadata": {"release": "2026.2"}, "reply_url": url,
    }


def test_instance_action_done_names_its_instance_and_asks_nothing():
    payload = notify.scheduled_payload(API, "s1", "p1", "INSTANCE_ACTION_DONE", "x", "y", {"a": 1},
                                       instance_id="i-1")
    assert payload["instance_ids"] == ["i-1"]
    assert (payload["actions_at"], payload["reply_at"], payload["metadata"], payload["allowed_actions"]) == \
        (None, None, {}, [])
    with pytest.raises(NotifyError, match="instance_id"):
        notify.scheduled_payload(API, "s1", "p1", "INSTANCE_ACTION_DONE")
    with pytest.raises(NotifyError, match="state: 'START_MAINTENANCE'"):
        notify.scheduled_payload(API, "s1", "p1", "START_MAINTENANCE")


def test_admin_host_payload():
    assert notify.host_payload("s1", "compute1", "IN_MAINTENANCE", "admin") == {
        "service": "fenix", "host": "compute1", "state": "IN_MAINTENANCE", "session_id": "s1", "project_id": "admin"}
    with pytest.raises(NotifyError, match="host_state"):
        notify.host_payload("s1", "compute1", "DOWN", "admin")


def test_actions_at_defaults():
    assert notify.default_actions_at("MAINTENANCE", "2026-12-01T02:00:00Z", "2026-11-30 23:00:00") == \
        "2026-12-01 02:00:00"
    # maintenance_at already passed: act at the reply deadline
    assert notify.default_actions_at("MAINTENANCE", "2026-01-01T00:00:00Z", "2026-11-30 23:00:00") == \
        "2026-11-30 23:00:00"
    assert notify.default_actions_at("PLANNED_MAINTENANCE", "2026-12-01T02:00:00Z", "2026-11-30 23:00:00") == \
        "2026-11-30 23:00:00"
    with pytest.raises(NotifyError, match="'tomorrow' is not a time"):
        notify.default_actions_at("MAINTENANCE", "tomorrow", "2026-11-30 23:00:00")


def test_oslo_envelope_is_the_messagingv2_format():
    note = Notification("maintenance.scheduled", {"project_id": "p1", "state": "MAINTENANCE"},
                        message_id="m-1", timestamp=WHEN)
    envelope = notify.oslo_envelope(note)
    assert set(envelope) == {"oslo.version", "oslo.message"} and envelope["oslo.version"] == "2.0"
    message = json.loads(envelope["oslo.message"])
    assert message["_unique_id"]
    del message["_unique_id"]
    assert message == {"message_id": "m-1", "publisher_id": "fenix", "event_type": "maintenance.scheduled",
                       "priority": "INFO", "payload": {"project_id": "p1", "state": "MAINTENANCE"},
                       "timestamp": "2026-12-01 02:00:00.123456"}
    assert notify.routing_key("notifications") == "notifications.info"


def test_transport_url_conversion_and_redaction():
    assert notify.kombu_url("rabbit://guest:guest@127.0.0.1:5672/") == ("amqp://guest:guest@127.0.0.1:5672/", False)
    assert notify.kombu_url("rabbit://u:p@h1:5672,u:p@h2:5672/nova?ssl=1") == \
        ("amqp://u:p@h1:5672/nova;amqp://u:p@h2:5672/nova", True)
    assert notify.redact_url("rabbit://u:p@h1:5672,v:q@h2:5672/nova") == "rabbit://u:***@h1:5672,v:***@h2:5672/nova"
    with pytest.raises(NotifyError, match="bus.transport_url: scheme 'kafka'"):
        notify.kombu_url("kafka://h:9092/")
    with pytest.raises(NotifyError, match="no host"):
        notify.kombu_url("rabbit:///")


def test_bus_publishes_on_the_exchange_and_routing_key_oslo_uses():
    memory = "memory://fenix-%s" % id(object())
    bus = BusTransport("rabbit://u:secret@h:5672/", exchange="fenix-test", topic="notifications",
                       connection_factory=lambda: kombu.Connection(memory))
    notes = [Notification("maintenance.scheduled", {"project_id": p}, message_id="m-" + p) for p in ("p1", "p2")]
    result = bus.publish(notes)
    assert result["m-p1"] == {"ok": True, "error": None, "exchange": "fenix-test",
                              "routing_key": "notifications.info", "transport_url": "rabbit://u:***@h:5672/"}
    # The default queue oslo binds (named after the routing key) holds both, in the 2.0 envelope.
    with kombu.Connection(memory) as connection:
        queue = connection.SimpleQueue("notifications.info")
        bodies = [queue.get(timeout=1) for dummy in notes]
        received = [json.loads(message.payload["oslo.message"]) for message in bodies]
        queue.close()
    assert [m["payload"]["project_id"] for m in received] == ["p1", "p2"]
    assert all(m["event_type"] == "maintenance.scheduled" and m["publisher_id"] == "fenix" for m in received)


def test_bus_failure_is_a_result_not_an_exception():
    def refuse():
        raise ConnectionRefusedError(111, "Connection refused")

    bus = BusTransport("rabbit://u:secret@h:5672/", connection_factory=refuse)
    result = bus.publish([Notification("maintenance.scheduled", {"project_id": "p1"}, message_id="m")])
    assert result["m"]["ok"] is False and "Connection refused" in result["m"]["error"]
    assert "secret" not in result["m"]["error"]


def test_traits_have_ceilometer_types():
    payload = notify.scheduled_payload(API, "s1", "p1", "PLANNED_MAINTENANCE", "2026-12-01 02:00:00",
                                       "2026-12-01 01:00:00", {"n": 2})
    traits = {name: (kind, value) for name, kind, value in notify.event_traits(payload)}
    assert traits["actions_at"] == (4, "2026-12-01T02:00:00")
    assert traits["reply_at"] == (4, "2026-12-01T01:00:00")
    # Lists and dicts as AODH delivers them from Ceilometer: their Python repr (Tacker eval()s it).
    assert traits["allowed_actions"] == (1, "['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION']")
    assert traits["metadata"] == (1, "{'n': 2}")
    assert traits["state"] == (1, "PLANNED_MAINTENANCE")
    assert notify.trait("count", 3) == ["count", 2, 3]
    assert notify.trait("ratio", 0.5) == ["ratio", 3, 0.5]
    done = notify.scheduled_payload(API, "s1", "p1", "INSTANCE_ACTION_DONE", instance_id="i-1")
    names = [item[0] for item in notify.event_traits(done)]
    assert "actions_at" not in names and "reply_at" not in names  # Ceilometer drops null traits


def test_aodh_body_shape():
    note = Notification("maintenance.scheduled", notify.scheduled_payload(API, "s1", "p1", "MAINTENANCE"),
                        message_id="m-1", timestamp=WHEN)
    body = notify.aodh_body(note, WebhookTarget("http://vnfm/", "a-1", "maint"))
    assert {key: body[key] for key in ("alarm_id", "alarm_name", "severity", "previous", "current")} == \
        {"alarm_id": "a-1", "alarm_name": "maint", "severity": "low", "previous": "alarm", "current": "alarm"}
    assert "m-1" in body["reason"]
    event = body["reason_data"]["event"]
    assert body["reason_data"]["type"] == "event"
    assert (event["message_id"], event["event_type"], event["generated"], event["raw"]) == \
        ("m-1", "maintenance.scheduled", "2026-12-01T02:00:00.123456", {})
    assert ["project_id", 1, "p1"] in event["traits"] and event["message_signature"]


def webhook(targets=None, retries=3, timeout=4):
    sleeps = []
    return WebhookTransport(targets, retries=retries, retry_delay=1.0, timeout=timeout, sleep=sleeps.append), sleeps


def to(hook, project_id="p1"):
    return {project_id: [WebhookTarget(hook.url("/" + project_id), "a", "n")]}


def note(project_id="p1"):
    return Notification("maintenance.scheduled", {"project_id": project_id, "state": "MAINTENANCE"}, message_id="m")


def test_webhook_retries_with_backoff_until_it_passes():
    with WebhookServer([503, HANG_UP, 200]) as hook:
        transport, sleeps = webhook(to(hook))
        result = transport.publish([note()])["m"]
    assert result["ok"] and result["posts"][0]["attempts"] == 3 and result["posts"][0]["status"] == 200
    assert sleeps == [1.0, 2.0]
    assert [path for path, body in hook.bodies] == ["/p1"] * 3
    assert all(body["reason_data"]["event"]["event_type"] == "maintenance.scheduled" for path, body in hook.bodies)


def test_webhook_gives_up_after_retries_and_on_client_errors():
    with WebhookServer([500, 502, 503]) as hook:
        transport, sleeps = webhook(to(hook), retries=2)
        result = transport.publish([note()])["m"]
    assert not result["ok"] and result["posts"][0]["attempts"] == 3 and "HTTP 503" in result["error"]
    assert result["posts"][0]["status"] == 503 and sleeps == [1.0, 2.0] and len(hook.bodies) == 3
    for status in (404, 302):  # a redirect is an answer, as before: not followed, not retried
        with WebhookServer([status]) as hook:
            transport, sleeps = webhook(to(hook))
            result = transport.publish([note()])["m"]
        assert not result["ok"] and result["posts"][0]["attempts"] == 1 and sleeps == [] and len(hook.bodies) == 1
        assert result["posts"][0]["error"] == "HTTP %d" % status


def test_webhook_retries_request_timeout_and_too_many_requests():
    with WebhookServer([408, 429]) as hook:
        transport, sleeps = webhook(to(hook))
        result = transport.publish([note()])["m"]
    assert result["ok"] and result["posts"][0]["attempts"] == 3 and sleeps == [1.0, 2.0]


def test_webhook_timeout_is_an_error_that_is_retried():
    with WebhookServer(delay=0.6) as hook:
        transport, sleeps = webhook(to(hook), retries=1, timeout=0.2)
        result = transport.publish([note()])["m"]
    post = result["posts"][0]
    assert not result["ok"] and post["status"] is None and post["attempts"] == 2 and sleeps == [1.0]
    assert "timed out" in post["error"] and len(hook.bodies) == 2


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A certificate for 127.0.0.1 that no CA signed: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    directory = tmp_path_factory.mktemp("tls")
    cert, key_file = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert), str(key_file)


def test_webhook_verifies_https_certificates(self_signed):
    with WebhookServer(tls=self_signed) as hook:
        transport, sleeps = webhook(to(hook), retries=1)
        result = transport.publish([note()])["m"]
    assert not result["ok"] and result["posts"][0]["attempts"] == 2 and sleeps == [1.0]
    assert "CERTIFICATE_VERIFY_FAILED" in result["error"] and hook.bodies == []


def test_webhook_without_url_names_the_project_and_the_fix():
    transport = webhook(targets={})[0]
    result = transport.publish([note("p9")])["m"]
    assert not result["ok"] and "no webhook URL for project p9" in result["error"] and "webhook.urls" in result["error"]


def test_configured_urls_accept_a_url_or_a_list():
    targets = notify.configured_targets({"p1": "http://a/", "p2": ["http://b/", "http://c/"]}, "maintenance.scheduled")
    assert [t.url for t in targets["p2"]] == ["http://b/", "http://c/"]
    assert targets["p1"][0].alarm_id == notify.configured_targets({"p1": "http://a/"}, "x")["p1"][0].alarm_id
    with pytest.raises(NotifyError, match="webhook.urls"):
        notify.configured_targets({"p1": 5}, "maintenance.scheduled")


class FakeAodhSession:
    def __init__(self, alarms, refuse_all_projects=False):
        self.alarms = alarms
        self.refuse_all_projects = refuse_all_projects
        self.requests = []

    def get(self, url, params=None, raise_exc=True):
        self.requests.append((url, params))
        if self.refuse_all_projects and ("q.field", "all_projects") in params:
            return SimpleNamespace(status_code=400, json=lambda: {})
        return SimpleNamespace(status_code=200, json=lambda: self.alarms)


class FakeConn:
    def __init__(self, endpoints, session=None):
        self.endpoints = endpoints
        self.session = session

    def endpoint_for(self, service_type, interface=None):
        return self.endpoints.get(service_type)


ALARMS = [
    {"alarm_id": "a1", "name": "vnf-maint", "type": "event", "enabled": True, "project_id": "p1",
     "event_rule": {"event_type": "maintenance.scheduled"},
     "alarm_actions": ["http://vnfm:12348/maintenance", "log://", "trust+http://vnfm/x"]},
    {"alarm_id": "a2", "name": "any-maint", "type": "event", "enabled": True, "project_id": "p2",
     "event_rule": {"event_type": "maintenance.*"}, "alarm_actions": ["https://vnfm2/hook"]},
    {"alarm_id": "a3", "name": "off", "type": "event", "enabled": False, "project_id": "p2",
     "event_rule": {"event_type": "maintenance.scheduled"}, "alarm_actions": ["http://off/"]},
    {"alarm_id": "a4", "name": "other", "type": "event", "enabled": True, "project_id": "p3",
     "event_rule": {"event_type": "compute.instance.update"}, "alarm_actions": ["http://p3/"]},
    {"alarm_id": "a5", "name": "other project", "type": "event", "enabled": True, "project_id": "p9",
     "event_rule": {"event_type": "maintenance.scheduled"}, "alarm_actions": ["http://p9/"]},
]


def test_aodh_discovery_uses_matching_enabled_event_alarms():
    session = FakeAodhSession(ALARMS)
    alarms = notify.list_event_alarms(FakeConn({"alarming": "http://aodh:8042/"}, session))
    targets = notify.discovered_targets(alarms, ["p1", "p2", "p3"], "maintenance.scheduled")
    assert {p: [(t.url, t.alarm_id, t.alarm_name) for t in ts] for p, ts in targets.items()} == {
        "p1": [("http://vnfm:12348/maintenance", "a1", "vnf-maint")],
        "p2": [("https://vnfm2/hook", "a2", "any-maint")],
    }
    url, params = session.requests[0]
    assert url == "http://aodh:8042/v2/alarms" and ("q.value", "event") in params


def test_aodh_discovery_falls_back_without_all_projects_on_old_aodh():
    session = FakeAodhSession(ALARMS, refuse_all_projects=True)
    assert len(notify.list_event_alarms(FakeConn({"alarming": "http://aodh:8042"}, session))) == len(ALARMS)
    assert len(session.requests) == 2 and ("q.field", "all_projects") not in session.requests[1][1]


def test_aodh_discovery_without_alarming_service_says_so():
    with pytest.raises(NotifyError, match="webhook.discover_from_aodh: the cloud's catalog has no alarming"):
        notify.list_event_alarms(FakeConn({}))


SERVERS = [SimpleNamespace(id=i, name=n, project_id=p, compute_host=h) for i, n, p, h in (
    ("s3", "web-3", "p1", "compute1"), ("s1", "web-1", "p1", "compute2"), ("s2", "", "p2", "compute1"),
    ("s4", "db", "p3", "compute3"))]


def test_asks_from_servers_group_by_project_on_the_hosts():
    asks = notify.asks_from_servers(SERVERS, ["compute1", "compute2"], "PLANNED_MAINTENANCE", "a", "r")
    assert [(a.project_id, a.instance_ids, a.hosts) for a in asks] == [
        ("p1", ["s1", "s3"], {"s3": "compute1", "s1": "compute2"}), ("p2", ["s2"], {"s2": "compute1"})]
    assert asks[0].allowed_actions == ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"]
    assert [a.names for a in asks] == [{"s3": "web-3", "s1": "web-1"}, {}]  # Nova allows a server no name


class Keystone:
    """A connection whose project list answers, or refuses as Keystone does a user who may not list projects."""

    def __init__(self, refuse=False):
        self.listed = 0
        self.refuse = refuse
        self.identity = self

    def projects(self):
        self.listed += 1
        if self.refuse:
            raise RuntimeError("ForbiddenException: 403: You are not authorized to perform the requested action")
        return [SimpleNamespace(id="p1", name="tenant-a"), SimpleNamespace(id="p9", name="elsewhere")]


def ask_through_journal(tmp_path, hook, conn, asks):
    journal = Journal(str(tmp_path / "journal.sqlite"))
    session = journal.create_session(["compute1", "compute2"], session_id="s1")
    params = {"api_url": API, "webhook": {"urls": {"p1": hook.url("/p1"), "p2": hook.url("/p2")},
                                          "discover_from_aodh": False, "retries": 0, "retry_delay": 0, "timeout": 5}}
    sent = notify.Notifier(journal, params, lambda: conn).ask_and_send(session, asks)
    assert all(item["delivered"] for item in sent)
    return journal


def test_the_journal_keeps_server_and_project_names_for_the_report(tmp_path):
    conn = Keystone()
    with WebhookServer() as hook:
        journal = ask_through_journal(tmp_path, hook, conn, notify.asks_from_servers(
            SERVERS, ["compute1", "compute2"], "MAINTENANCE", None, None))
    assert conn.listed == 1  # one Keystone list for all the projects
    assert {i.instance_id: i.details.get("name") for i in journal.instances("s1")} == {
        "s1": "web-1", "s2": None, "s3": "web-3"}
    named = [(e["project_id"], e["details"]) for e in journal.events("s1") if e["kind"] == "project.named"]
    assert named == [("p1", {"project_name": "tenant-a"})]  # p2 has no name in Keystone


def test_a_project_is_named_once_per_session(tmp_path):
    conn = Keystone()
    with WebhookServer() as hook:
        journal = ask_through_journal(tmp_path, hook, conn, notify.asks_from_servers(
            SERVERS, ["compute1", "compute2"], "MAINTENANCE", None, None))
        session = journal.session("s1")
        params = {"api_url": API, "webhook": {"urls": {"p1": hook.url("/p1"), "p2": hook.url("/p2")},
                                              "discover_from_aodh": False, "retries": 0, "retry_delay": 0,
                                              "timeout": 5}}
        notify.Notifier(journal, params, lambda: conn).ask_and_send(session, notify.asks_from_servers(
            SERVERS, ["compute1", "compute2"], "PLANNED_MAINTENANCE", None, None))
    assert conn.listed == 1  # the second state asks the same projects: no new list, no second name event
    named = [(e["project_id"], e["details"]) for e in journal.events("s1") if e["kind"] == "project.named"]
    assert named == [("p1", {"project_name": "tenant-a"})]
    states = {p.project_id: p.state for p in journal.projects("s1")}
    assert states == {"p1": "PLANNED_MAINTENANCE", "p2": "PLANNED_MAINTENANCE"}


def test_names_are_optional_a_refused_project_list_leaves_the_ids(tmp_path):
    conn = Keystone(refuse=True)
    with WebhookServer() as hook:
        journal = ask_through_journal(tmp_path, hook, conn, notify.asks_from_servers(
            SERVERS, ["compute1"], "MAINTENANCE", None, None))
    assert conn.listed == 1 and [p.project_id for p in journal.projects("s1")] == ["p1", "p2"]
    assert not [e for e in journal.events("s1") if e["kind"] == "project.named"]


def test_projects_the_operator_named_need_no_cloud_for_names(tmp_path):
    conn = Keystone()
    with WebhookServer() as hook:
        journal = ask_through_journal(tmp_path, hook, conn, notify.asks_from_list(
            [{"project_id": "p1", "instance_ids": ["s1"]}], "MAINTENANCE", None, None))
    assert conn.listed == 0 and journal.instances("s1")[0].details == {}


def test_real_post_to_a_closed_port_is_retried_then_reported():
    sleeps = []
    transport = WebhookTransport({"p1": [WebhookTarget("http://127.0.0.1:9/hook", "a", "n")]}, retries=1,
                                 retry_delay=0.5, timeout=2, sleep=sleeps.append)
    result = transport.publish([note()])["m"]
    assert not result["ok"] and result["posts"][0]["attempts"] == 2 and sleeps == [0.5]
    assert "refused" in result["error"].lower()
    with pytest.raises(NotifyError, match="not an http or https URL"):
        notify.http_post_json("ftp://x/", {}, 1)
