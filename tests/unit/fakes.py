"""A small in-memory stand-in for an openstacksdk connection (unit tests only).

It keeps hosts, services and servers, counts requests per API, and moves
servers the way Nova does: a live migration settles after a few polls, a cold
one stops in VERIFY_RESIZE until confirmed.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import threading
import warnings
from collections import Counter
from types import SimpleNamespace

from keystoneauth1 import access, fixture
from keystoneauth1.identity import v3
from openstack import exceptions


class FakeResponse:
    def __init__(self, body):
        self._body = body

    def json(self):
        return self._body


class FakeServer(SimpleNamespace):
    def to_dict(self, computed=False):
        return dict(vars(self))


class FakeService(SimpleNamespace):
    pass


class FakeCloud:
    """The cloud's state plus the proxies an openstacksdk Connection has."""

    def __init__(self, hosts=("compute1", "compute2", "compute3"), settle_polls=1):
        self.calls = Counter()
        self.settle_polls = settle_polls
        self.services = {
            host: FakeService(
                id="svc-%s" % host, host=host, binary="nova-compute", status="enabled",
                disabled_reason=None, is_forced_down=False, state="up", availability_zone="nova",
            )
            for host in hosts
        }
        self.servers = {}
        self.groups = []
        self.migration_records = []
        self.allocations = {host: {} for host in hosts}
        self.refusals = []  # exceptions raised by the next migration requests, in order
        self.refusals_of = {}  # server id: exceptions raised by its next migration requests (sent together or not)
        self.cold_failures = 0  # next cold migrations that end with an error record
        self.failing_targets = set()  # hosts whose compute fails every migration naming them (an error record)
        self.traits = {host: set() for host in hosts}  # the traits of each host's resource provider
        self.confirmed_meanwhile = 0  # next confirmations that find the resize confirmed already (409)
        self.live_status = "running"  # status of a live migration in progress (Nova's record), e.g. "queued"
        self.ignore_timeout_actions = False  # accept force_complete / abort and do nothing, as a wedged compute
        self._pending = {}
        self._ids = itertools.count(1)
        # The engine sends some requests together (cloud/parallel.py): each request is atomic, as an API's is.
        self.lock = threading.RLock()
        self.compute = _Compute(self)
        self.placement = _Placement(self)
        self.identity = _Identity(self)
        self.current_project_id = "admin-project"
        self.endpoints = {}  # service type -> URL, as the catalog would give
        self.host_aggregates = []  # what compute.aggregates() lists (add_aggregate)
        self.hypervisor_page_size = None  # pages the hypervisor list as Nova's max_limit does
        # (lowest, highest) microversion each version document offers; None: no document.
        self.api_versions = {"compute": ("2.1", "2.95"), "placement": ("1.0", "1.39")}
        self.version_reads = Counter()  # not in calls: the SDK reads them when it opens an endpoint

    def endpoint_for(self, service_type, interface=None, region_name=None):
        return self.endpoints.get(service_type)

    def add_server(self, host, status="ACTIVE", project_id="p1", name=None, vcpus=1, extra_specs=None,
                   pinned_zone=None):
        server_id = "00000000-0000-4000-8000-%012d" % next(self._ids)  # Nova ids are UUIDs
        self.servers[server_id] = FakeServer(
            id=server_id, name=name or server_id, project_id=project_id, status=status,
            task_state=None, compute_host=host, host_id="hid-" + host,
            flavor={"original_name": "tiny", "vcpus": vcpus, "ram": 256, "disk": 1, "extra_specs": extra_specs or {}},
            availability_zone=self.services[host].availability_zone, pinned_availability_zone=pinned_zone,
        )
        self.allocations[host][server_id] = {"resources": {"VCPU": vcpus}}
        return server_id

    def add_aggregate(self, name, hosts, availability_zone=None):
        self.host_aggregates.append(SimpleNamespace(
            id=len(self.host_aggregates) + 1, name=name, hosts=list(hosts),
            availability_zone=availability_zone, metadata={},
        ))

    def hypervisor_record(self, host, svc):
        """A hypervisor as Nova's detail list shows it at microversion 2.53."""
        vcpus_used = sum(a["resources"].get("VCPU", 0) for a in self.allocations.get(host, {}).values())
        return {
            "id": "rp-" + host, "hypervisor_hostname": host, "state": svc.state,
            "status": svc.status, "service": {"host": host, "id": svc.id},
            "host_ip": "192.0.2.%d" % (sorted(self.services).index(host) + 1),
            "vcpus": 8, "vcpus_used": vcpus_used, "memory_mb": 4096, "memory_mb_used": 256 * vcpus_used,
            "local_gb": 40, "local_gb_used": vcpus_used,
            "running_vms": sum(1 for server in self.servers.values() if server.compute_host == host),
        }

    def endpoint_data(self, service_type):
        """keystoneauth's EndpointData of a service: its microversions parsed to (major, minor)."""
        self.version_reads[service_type] += 1
        offered = self.api_versions[service_type]
        if offered is None:
            return None
        low, high = (tuple(int(part) for part in version.split(".")) if version else None for version in offered)
        return SimpleNamespace(min_microversion=low, max_microversion=high)

    def other_host(self, source, target=None):
        if target:
            return target
        return sorted(h for h in self.services if h != source and self.services[h].status == "enabled"
                      and h not in self.failing_targets)[0]

    def move(self, server, destination):
        del self.allocations[server.compute_host][server.id]
        server.compute_host = destination
        server.availability_zone = self.services[destination].availability_zone
        self.allocations[destination][server.id] = {"resources": {"VCPU": server.flavor["vcpus"]}}


class _Atomic:
    """Each public method runs under the cloud's lock: requests sent from several threads do not interleave.

    A method a test puts on the instance (a spy) runs as it is; the original it calls is still atomic.
    """

    def __getattribute__(self, name):
        attribute = object.__getattribute__(self, name)
        if name.startswith("_") or not callable(attribute) or name in object.__getattribute__(self, "__dict__"):
            return attribute
        lock = object.__getattribute__(self, "cloud").lock

        @functools.wraps(attribute)
        def atomic(*args, **kwargs):
            with lock:
                return attribute(*args, **kwargs)
        return atomic


class _Compute(_Atomic):
    def __init__(self, cloud):
        self.cloud = cloud

    # services
    def services(self, binary=None, host=None):
        self.cloud.calls["compute.services"] += 1
        return [s for s in self.cloud.services.values() if host is None or s.host == host]

    def disable_service(self, service, disabled_reason=None):
        """As openstacksdk does at 2.53: only the fields whose value changes are sent, and Nova refuses a
        reason without a status (the status of a disabled service does not change)."""
        self.cloud.calls["compute.disable_service"] += 1
        if service.status == "disabled":
            raise RuntimeError("BadRequestException: 400: No updates were requested. Fields 'status' or"
                               " 'forced_down' should be specified.")
        service.status, service.disabled_reason = "disabled", disabled_reason
        return service

    def put(self, url, json=None, microversion=None):
        """PUT /os-services/{id} as Nova answers it at 2.53: a reason without a status is refused."""
        self.cloud.calls["compute.put"] += 1
        service_id = url.rsplit("/", 1)[1]
        service = next(s for s in self.cloud.services.values() if s.id == service_id)
        if "status" not in (json or {}) and "forced_down" not in (json or {}):
            return SimpleNamespace(status_code=400, text="No updates were requested. Fields 'status' or"
                                                         " 'forced_down' should be specified.")
        service.status = json.get("status", service.status)
        service.disabled_reason = json.get("disabled_reason") if service.status == "disabled" else None
        return SimpleNamespace(status_code=200, text="")

    def enable_service(self, service):
        self.cloud.calls["compute.enable_service"] += 1
        service.status, service.disabled_reason = "enabled", None
        return service

    def update_service_forced_down(self, service, forced=True):
        self.cloud.calls["compute.update_service_forced_down"] += 1
        service.is_forced_down = forced
        return service

    # servers
    def servers(self, details=True, all_projects=False, compute_host=None, id=None):  # pylint: disable=redefined-builtin
        """A list is a read of every server it shows: each sees its migration advance, as a GET would."""
        self.cloud.calls["compute.servers"] += 1

        def shown(server):
            return compute_host in (None, server.compute_host) and id in (None, server.id)

        for server in list(self.cloud.servers.values()):
            if shown(server):
                self._advance(server)
        return [s for s in self.cloud.servers.values() if shown(s)]

    def get_server(self, server_id):
        self.cloud.calls["compute.get_server"] += 1
        server = self.cloud.servers.get(getattr(server_id, "id", server_id))
        if server is None:
            raise exceptions.NotFoundException("No Server found for %s" % server_id)
        self._advance(server)
        return server

    def _advance(self, server):
        """One read of a migrating server: its migration ends after settle_polls reads."""
        pending = self.cloud._pending.get(server.id)
        if pending is not None:
            pending["polls"] -= 1
            if pending["polls"] < 0:
                del self.cloud._pending[server.id]
                pending["finish"]()

    def find_server(self, name_or_id, ignore_missing=True, all_projects=False):
        self.cloud.calls["compute.find_server"] += 1
        for server in self.cloud.servers.values():
            if name_or_id in (server.id, server.name):
                return server
        return None

    def aggregates(self):
        self.cloud.calls["compute.aggregates"] += 1
        return list(self.cloud.host_aggregates)

    def server_groups(self, all_projects=False):
        self.cloud.calls["compute.server_groups"] += 1
        return self.cloud.groups

    def _refusal(self, server_id):
        if self.cloud.refusals_of.get(server_id):
            raise self.cloud.refusals_of[server_id].pop(0)
        if self.cloud.refusals:
            raise self.cloud.refusals.pop(0)

    def live_migrate_server(self, server_id, host=None, block_migration=None):
        self.cloud.calls["compute.live_migrate_server"] += 1
        self._refusal(server_id)
        server = self.cloud.servers[server_id]
        destination = self.cloud.other_host(server.compute_host, host)
        previous = server.status
        server.status, server.task_state = "MIGRATING", "migrating"
        total = 256 * 1024 * 1024  # the flavor's RAM, as libvirt reports it
        record = SimpleNamespace(
            id=len(self.cloud.migration_records) + 1, status=self.cloud.live_status, migration_type="live-migration",
            created_at="2026-11-22T11:%02d:00" % len(self.cloud.migration_records), updated_at=None,
            server_id=server.id, memory_total_bytes=total, memory_processed_bytes=0, memory_remaining_bytes=total,
        )
        self.cloud.migration_records.append((server.id, record))

        def finish():
            if host in self.cloud.failing_targets:
                server.status, server.task_state = previous, None
                record.status = "error"
                return
            self.cloud.move(server, destination)
            server.status, server.task_state = previous, None
            record.status = "completed"

        def cancel():
            server.status, server.task_state = previous, None
            record.status = "cancelled"

        self.cloud._pending[server.id] = {"polls": self.cloud.settle_polls, "finish": finish, "cancel": cancel}

    def server_migrations(self, server):
        """GET /servers/{id}/migrations: its live migrations in progress; each read sees a quarter more copied."""
        self.cloud.calls["compute.server_migrations"] += 1
        records = [record for owner, record in self.cloud.migration_records
                   if owner == server and getattr(record, "migration_type", None) == "live-migration"
                   and record.status in ("queued", "preparing", "running", "post-migrating")]
        for record in records:
            if record.status == "running":
                record.memory_remaining_bytes = max(0, record.memory_remaining_bytes - record.memory_total_bytes // 4)
                record.memory_processed_bytes = record.memory_total_bytes - record.memory_remaining_bytes
        return records

    def force_complete_server_migration(self, server_migration, server=None):
        self.cloud.calls["compute.force_complete_server_migration"] += 1
        if server_migration.status != "running":
            raise http_error(400, "Migration %s state of instance %s is %s. Cannot force complete while the"
                                  " migration is in this state." % (server_migration.id, server,
                                                                    server_migration.status))
        pending = self.cloud._pending.get(server)
        if pending is not None and not self.cloud.ignore_timeout_actions:
            pending["polls"] = 0  # done at the next read of the server

    def abort_server_migration(self, server_migration, server, ignore_missing=True):
        self.cloud.calls["compute.abort_server_migration"] += 1
        if server_migration.status not in ("queued", "preparing", "running"):
            raise http_error(400, "Migration %s state of instance %s is %s. Cannot abort live migration while the"
                                  " migration is in this state." % (server_migration.id, server,
                                                                    server_migration.status))
        pending = self.cloud._pending.get(server)
        if pending is not None and not self.cloud.ignore_timeout_actions:
            del self.cloud._pending[server]
            pending["cancel"]()

    def migrate_server(self, server_id, host=None):
        self.cloud.calls["compute.migrate_server"] += 1
        self._refusal(server_id)
        server = self.cloud.servers[server_id]
        source = server.compute_host
        previous = server.status
        server.task_state = "resize_prep"
        record = SimpleNamespace(id=len(self.cloud.migration_records) + 1, status="migrating",
                                 migration_type="migration", server_id=server.id, updated_at=None,
                                 created_at="2026-11-22T11:%02d:00" % len(self.cloud.migration_records))
        self.cloud.migration_records.append((server.id, record))
        if self.cloud.cold_failures or host in self.cloud.failing_targets:
            self.cloud.cold_failures = max(0, self.cloud.cold_failures - 1)

            def finish():
                server.task_state = None
                record.status = "error"
        else:
            destination = self.cloud.other_host(source, host)

            def finish():
                self.cloud.move(server, destination)
                self.cloud.allocations[source]["migration-" + server.id] = {"resources": {"VCPU": 1}}
                server.status, server.task_state = "VERIFY_RESIZE", None
                server.previous_status = previous
                server.source = source
                record.status = "finished"

        self.cloud._pending[server.id] = {"polls": self.cloud.settle_polls, "finish": finish}

    def confirm_server_resize(self, server):
        self.cloud.calls["compute.confirm_server_resize"] += 1
        server.task_state = "resize_confirming"

        def finish():
            self.cloud.allocations[server.source].pop("migration-" + server.id, None)
            server.status, server.task_state = server.previous_status, None

        if self.cloud.confirmed_meanwhile:
            # Someone else's confirmation ended just before this one arrived: Nova refuses it.
            self.cloud.confirmed_meanwhile -= 1
            finish()
            raise http_error(409, "Cannot 'confirmResize' instance %s while it is in vm_state stopped" % server.id)
        self.cloud._pending[server.id] = {"polls": 0, "finish": finish}

    def migrations(self, server_id=None):
        self.cloud.calls["compute.migrations"] += 1
        return [record for owner, record in self.cloud.migration_records if owner == server_id]

    def get_endpoint_data(self):
        return self.cloud.endpoint_data("compute")

    # raw requests (hypervisors)
    def get(self, url, microversion=None):
        if url.startswith("/os-migrations?limit="):
            # The cloud's latest migrations, newest first, one page (2.59+).
            self.cloud.calls["compute.latest_migrations"] += 1
            assert microversion == "2.59", microversion
            limit = int(url.split("=")[1])
            return FakeResponse({"migrations": [dict(vars(record)) for _owner, record
                                                in reversed(self.cloud.migration_records)][:limit]})
        self.cloud.calls["compute.get"] += 1
        assert url.startswith("/os-hypervisors/detail"), url
        hypervisors = [self.cloud.hypervisor_record(host, svc) for host, svc in self.cloud.services.items()]
        if "hypervisor_hostname_pattern=" in url:
            pattern = url.split("hypervisor_hostname_pattern=")[1]
            hypervisors = [h for h in hypervisors if pattern in h["hypervisor_hostname"]]
        return FakeResponse(self._page(hypervisors, url))

    def _page(self, hypervisors, url):
        """One page and the next link, as Nova answers past its max_limit."""
        size = self.cloud.hypervisor_page_size
        if not size:
            return {"hypervisors": hypervisors}
        start = 0
        if "marker=" in url:
            marker = url.split("marker=")[1]
            start = [h["id"] for h in hypervisors].index(marker) + 1
        page = hypervisors[start:start + size]
        body = {"hypervisors": page}
        if start + size < len(hypervisors):
            body["hypervisors_links"] = [{"rel": "next", "href": "/os-hypervisors/detail?marker=" + page[-1]["id"]}]
        return body


class _Placement(_Atomic):
    def __init__(self, cloud):
        self.cloud = cloud

    def get_endpoint_data(self):
        return self.cloud.endpoint_data("placement")

    def get(self, url, microversion=None):
        self.cloud.calls["placement.get"] += 1
        if url.startswith("/allocation_candidates"):
            return FakeResponse(self._candidates())
        if url.startswith("/resource_providers?required="):
            assert microversion == "1.22", microversion
            wanted = url.split("=", 1)[1].split(",")
            return FakeResponse({"resource_providers": [
                {"uuid": "rp-" + host, "name": host} for host, traits in sorted(self.cloud.traits.items())
                if all((want[1:] not in traits) if want.startswith("!") else (want in traits) for want in wanted)]})
        parts = url.strip("/").split("/")
        host = parts[1][len("rp-"):]
        allocations = self.cloud.allocations[host]
        if parts[2] == "inventories":
            return FakeResponse({"inventories": {
                "VCPU": {"total": 8, "reserved": 0, "allocation_ratio": 1.0},
                "MEMORY_MB": {"total": 4096, "reserved": 512, "allocation_ratio": 1.5},
            }})
        if parts[2] == "usages":
            used = sum(a["resources"].get("VCPU", 0) for a in allocations.values())
            return FakeResponse({"usages": {"VCPU": used, "MEMORY_MB": 256 * used}})
        if parts[2] == "allocations":
            return FakeResponse({"allocations": dict(allocations)})
        raise AssertionError(url)

    def _candidates(self):
        """GET /allocation_candidates?resources=VCPU:1: summaries of the providers with a free vCPU."""
        summaries = {}
        for host in self.cloud.services:
            inventories = self.get("/resource_providers/rp-%s/inventories" % host).json()["inventories"]
            usages = self.get("/resource_providers/rp-%s/usages" % host).json()["usages"]
            self.cloud.calls["placement.get"] -= 2  # one request in all, counted above
            resources = {
                rc: {"capacity": int((inv["total"] - inv["reserved"]) * inv["allocation_ratio"]),
                     "used": usages.get(rc, 0)}
                for rc, inv in inventories.items()
            }
            if resources["VCPU"]["capacity"] - resources["VCPU"]["used"] >= 1:
                summaries["rp-" + host] = {"resources": resources, "traits": []}
        return {"allocation_requests": [], "provider_summaries": summaries}


class _Identity(_Atomic):
    def __init__(self, cloud):
        self.cloud = cloud
        # The catalog, as Keystone keeps it: services and their endpoints.
        self.catalog_services = []
        self.catalog_endpoints = []
        self._catalog_ids = itertools.count(1)

    def projects(self):
        self.cloud.calls["identity.projects"] += 1
        return [SimpleNamespace(id="p1", name="tenant-a"), SimpleNamespace(id="p2", name="tenant-b")]

    def services(self, type=None):  # noqa: A002 (openstacksdk's keyword)
        self.cloud.calls["identity.services"] += 1
        return [service for service in self.catalog_services if type in (None, service.type)]

    def create_service(self, name=None, type=None):  # noqa: A002
        self.cloud.calls["identity.create_service"] += 1
        service = SimpleNamespace(id="service-%d" % next(self._catalog_ids), name=name, type=type)
        self.catalog_services.append(service)
        return service

    def endpoints(self, service_id=None, interface=None):
        self.cloud.calls["identity.endpoints"] += 1
        return [endpoint for endpoint in self.catalog_endpoints
                if service_id in (None, endpoint.service_id) and interface in (None, endpoint.interface)]

    def create_endpoint(self, service_id=None, interface=None, url=None, region_id=None):
        self.cloud.calls["identity.create_endpoint"] += 1
        endpoint = SimpleNamespace(id="endpoint-%d" % next(self._catalog_ids), service_id=service_id,
                                   interface=interface, url=url, region_id=region_id)
        self.catalog_endpoints.append(endpoint)
        return endpoint

    def delete_endpoint(self, endpoint):
        self.cloud.calls["identity.delete_endpoint"] += 1
        endpoint_id = getattr(endpoint, "id", endpoint)
        self.catalog_endpoints = [kept for kept in self.catalog_endpoints if kept.id != endpoint_id]


def http_error(status_code, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK deprecates http_status; a fake has no response
        return exceptions.HttpException(message=message, http_status=status_code, details=message)


class CallsTogether:
    """The fake's compute, whose first ``count`` calls of ``method`` wait until they are all in flight at once.

    Their barrier breaks, and the calls raise, when they come one after the other.
    """

    def __init__(self, compute, method, count):
        self.compute = compute
        self.method = method
        self.barrier = threading.Barrier(count, timeout=10)
        self.calls = 0
        self.counting = threading.Lock()

    def __getattr__(self, name):
        attribute = getattr(self.compute, name)
        if name != self.method:
            return attribute

        def together(*args, **kwargs):
            with self.counting:
                self.calls += 1
                first = self.calls <= self.barrier.parties
            if first:
                self.barrier.wait()
            return attribute(*args, **kwargs)
        return together


# keystoneauth's own password plugin, as an openstacksdk connection's session holds it (token_cache tests).
def password_auth(password: str = "secret", project: str = "admin") -> v3.Password:
    return v3.Password(auth_url="http://keystone.test/v3", username="admin", password=password,
                       project_name=project, user_domain_id="default", project_domain_id="default")


def authenticated(auth: v3.Password, token: str, expires_in: datetime.timedelta = datetime.timedelta(hours=1)):
    """``auth`` as after a password authentication that Keystone answered with ``token``."""
    body = fixture.V3Token(expires=datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + expires_in)
    body.set_project_scope()
    auth.auth_ref = access.create(body=body, auth_token=token)
    return auth
