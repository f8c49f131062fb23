"""planning/input.py: the planner's CloudModel read from a FakeCloud with list calls only."""

import threading
from collections import Counter
from types import SimpleNamespace

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.planning.input import flavor_need, read_cloud_model
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import PlanSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.planner import plan_batch
from fakes import FakeCloud, FakeServer

# One service list, one hypervisor list, one allocation candidates request,
# one aggregate list, one server group list, one server list.
LISTS = Counter({"compute.services": 1, "compute.get": 1, "placement.get": 1, "compute.aggregates": 1,
                 "compute.server_groups": 1, "compute.servers": 1})
# The fake's Placement inventory of every host: VCPU 8 (ratio 1), MEMORY_MB 4096 - 512 reserved at ratio 1.5;
# no DISK_GB inventory (shared storage), so disk does not limit.
CAPACITY = {"VCPU": 8, "MEMORY_MB": (4096 - 512) * 3 // 2}


def group(group_id, name, members, policy=None, policies=None):
    return SimpleNamespace(id=group_id, name=name, policy=policy, policies=policies, member_ids=members)


@pytest.fixture
def cloud():
    fake = FakeCloud(hosts=("compute1", "compute2", "compute3", "compute4"))
    fake.services["compute2"].status = "disabled"
    fake.services["compute2"].disabled_reason = "fenix.maintenance: kernel 6.1"
    fake.services["compute3"].status = "disabled"
    fake.services["compute3"].disabled_reason = "RMA 1234"
    fake.services["compute4"].is_forced_down = True  # Nova still says "up" until the next report
    fake.services["compute4"].availability_zone = "zone-b"
    fake.add_aggregate("rack-2", ["compute1", "compute4"])
    fake.add_aggregate("rack-1", ["compute1"])
    return fake


def test_hosts_from_services_hypervisors_and_placement_summaries(cloud):
    cloud.add_server("compute1", vcpus=2)
    cloud.add_server("compute1", vcpus=1)
    model = read_cloud_model(cloud)
    assert sorted(model.hosts) == ["compute1", "compute2", "compute3", "compute4"]
    first = model.hosts["compute1"]
    assert (first.name, first.availability_zone, first.aggregates) == ("compute1", "nova", ("rack-1", "rack-2"))
    assert first.capacity == CAPACITY  # reserved and allocation ratio applied; no DISK_GB: not limiting
    assert first.used == {"VCPU": 3, "MEMORY_MB": 768, "DISK_GB": 0}
    assert first.free()[:2] == [5, CAPACITY["MEMORY_MB"] - 768]
    assert (first.enabled, first.up, first.disabled_by_us) == (True, True, False)
    assert model.hosts["compute4"].aggregates == ("rack-2",)
    assert model.hosts["compute4"].availability_zone == "zone-b"
    assert cloud.calls == LISTS


def test_service_states(cloud):
    hosts = read_cloud_model(cloud).hosts
    assert [(hosts[h].enabled, hosts[h].up, hosts[h].disabled_by_us) for h in sorted(hosts)] == [
        (True, True, False),
        (False, True, True),  # disabled by a maintenance of ours
        (False, True, False),  # disabled by someone else
        (True, False, False),  # forced down
    ]
    cloud.services["compute1"].state = "down"
    assert read_cloud_model(cloud).hosts["compute1"].up is False


def test_a_full_host_is_read_on_its_own(cloud):
    """A provider without a free vCPU is no allocation candidate: its inventories and usages are read."""
    for _index in range(4):
        cloud.add_server("compute3", vcpus=2)
    placement_urls, depth = [], []
    get = cloud.placement.get

    def spy(url, microversion=None):
        if not depth:  # not the reads the fake makes to answer /allocation_candidates
            placement_urls.append((url, microversion))
        depth.append(url)
        try:
            return get(url, microversion)
        finally:
            depth.pop()

    cloud.placement.get = spy
    model = read_cloud_model(cloud)
    full = model.hosts["compute3"]
    assert full.capacity == CAPACITY
    assert full.used == {"VCPU": 8, "MEMORY_MB": 2048, "DISK_GB": 0}
    assert full.free()[0] == 0
    assert placement_urls == [
        ("/allocation_candidates?resources=VCPU:1", "1.29"),
        ("/resource_providers/rp-compute3/inventories", None),
        ("/resource_providers/rp-compute3/usages", None),
    ]
    assert cloud.calls == LISTS + Counter({"placement.get": 2})


def test_the_full_hosts_are_read_together(cloud):
    for host in ("compute1", "compute3"):
        for _index in range(4):
            cloud.add_server(host, vcpus=2)
    together, inside = threading.Barrier(2, timeout=10), threading.local()
    get = cloud.placement.get

    def inventories_together(url, microversion=None):
        # Not the reads the fake makes to answer /allocation_candidates (they come through here too).
        depth = getattr(inside, "depth", 0)
        if url.endswith("/inventories") and not depth:
            together.wait()  # broken, and so raising, when the full hosts are read one after the other
        inside.depth = depth + 1
        try:
            return get(url, microversion)
        finally:
            inside.depth = depth

    cloud.placement.get = inventories_together
    model = read_cloud_model(cloud)
    assert [model.hosts[host].free()[0] for host in ("compute1", "compute2", "compute3")] == [0, 8, 0]
    assert model.hosts["compute3"].used == {"VCPU": 8, "MEMORY_MB": 2048, "DISK_GB": 0}


def test_a_host_without_resource_provider_has_no_capacity(cloud):
    record = cloud.hypervisor_record

    def without_compute2(host, svc):
        hypervisor = record(host, svc)
        if host == "compute2":
            hypervisor["service"] = {}  # not tied to its service: no provider known for compute2
        return hypervisor

    cloud.hypervisor_record = without_compute2
    host = read_cloud_model(cloud).hosts["compute2"]
    assert host.capacity == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}
    assert host.free() == [0, 0, 0]  # never a target
    assert cloud.calls["placement.get"] == 1


def test_servers_with_their_embedded_flavor_and_server_group(cloud):
    a = cloud.add_server("compute1", name="web-a", project_id="p1", vcpus=2)
    b = cloud.add_server("compute2", name="web-b", project_id="p1")
    c = cloud.add_server("compute1", name="db", project_id="p2")
    cloud.servers[c].flavor = {"original_name": "big", "vcpus": 4, "ram": 8192, "disk": 20, "ephemeral": 10,
                               "swap": 1536}
    shelved = cloud.add_server("compute1", status="SHELVED_OFFLOADED")
    cloud.servers[shelved].compute_host = None
    cloud.groups = [
        group("g-web", "web", [a, b], policy="anti-affinity"),
        group("g-old", "old-style", [c], policies=["soft-affinity"]),  # before microversion 2.64
    ]
    model = read_cloud_model(cloud)
    servers = {server.id: server for server in model.servers}
    assert sorted(servers) == sorted([a, b, c])  # the shelved one is on no host
    assert (servers[a].name, servers[a].project_id, servers[a].host, servers[a].status) == (
        "web-a", "p1", "compute1", "ACTIVE")
    assert servers[a].need == (2, 256, 1)
    assert servers[c].need == (4, 8192, 20 + 10 + 2)  # swap rounded up to GB
    assert (servers[a].group_id, servers[a].group_policy) == ("g-web", "anti-affinity")
    assert (servers[b].group_id, servers[b].group_policy) == ("g-web", "anti-affinity")
    assert (servers[c].group_id, servers[c].group_policy) == ("g-old", "soft-affinity")
    assert model.group_names == {"g-web": "web", "g-old": "old-style"}


def test_constraints_are_added_to_the_model(cloud):
    grouped = cloud.add_server("compute1")
    loose = cloud.add_server("compute2")
    cloud.groups = [group("g-nova", "nova-name", [grouped], policy="anti-affinity")]
    model = read_cloud_model(
        cloud,
        instance_groups=[
            {"group_id": "g-nova", "group_name": "fenix-name", "max_impacted_members": 1, "recovery_time": 30},
            {"group_id": "g-fenix", "group_name": "fenix-only", "anti_affinity_group": True},
        ],
        instances=[
            {"instance_id": loose, "group_id": "g-fenix", "migration_type": "MIGRATE", "lead_time": 60},
            {"instance_id": grouped, "group_id": "g-fenix"},
        ],
    )
    assert model.groups["g-nova"].max_impacted_members == 1
    assert model.groups["g-nova"].recovery_time == 30.0
    assert model.groups["g-fenix"].anti_affinity_group is True
    # Nova's name wins over the constraint's; a group Nova does not know gets the constraint's name.
    assert model.group_names == {"g-nova": "nova-name", "g-fenix": "fenix-only"}
    servers = {server.id: server for server in model.servers}
    assert servers[loose].group_id == "g-fenix"  # in no Nova group: the instance constraint's group
    assert servers[grouped].group_id == "g-nova"  # its Nova server group stays
    assert model.instances[loose].migration_type == "MIGRATE"
    assert model.instances[loose].lead_time == 60.0


@pytest.mark.parametrize("servers_per_host", [0, 1, 7])
def test_request_count_does_not_grow_with_servers(cloud, servers_per_host):
    for host in cloud.services:
        for _index in range(servers_per_host):
            cloud.add_server(host)
    model = read_cloud_model(cloud)
    assert len(model.servers) == 4 * servers_per_host
    assert cloud.calls == LISTS


def test_a_batch_reads_its_hosts_servers_and_their_groups_other_members(cloud):
    """Not the cloud's servers: those of the batch's hosts, and where the other members of their groups are."""
    on_batch = cloud.add_server("compute1", name="web-a")
    member_elsewhere = cloud.add_server("compute4", name="web-b")
    fenix_member = cloud.add_server("compute3", name="db-b")
    db = cloud.add_server("compute1", name="db-a")
    unrelated = [cloud.add_server("compute2") for _index in range(5)]
    cloud.groups = [group("g-web", "web", [on_batch, member_elsewhere], policy="anti-affinity"),
                    group("g-other", "other", unrelated[:2], policy="anti-affinity")]
    model = read_cloud_model(cloud, instances=[{"instance_id": db, "group_id": "g-db"},
                                               {"instance_id": fenix_member, "group_id": "g-db"}],
                             servers_of=["compute1"])
    hosts = {server.id: server.host for server in model.servers}
    assert hosts == {on_batch: "compute1", db: "compute1", member_elsewhere: "compute4", fenix_member: "compute3"}
    assert model.servers_complete is False
    assert sorted(model.hosts) == ["compute1", "compute2", "compute3", "compute4"]  # every host is a candidate
    # One list of the batch host's servers, one read per other member.
    assert cloud.calls == LISTS + Counter({"compute.servers": 2})


def test_a_batch_reads_as_much_in_a_larger_cloud(cloud):
    def batch_calls(fake):
        for host in fake.services:
            for _index in range(3):
                fake.add_server(host)
        read_cloud_model(fake, servers_of=["compute1"])
        return fake.calls

    assert batch_calls(cloud) == batch_calls(FakeCloud(hosts=["compute%d" % index for index in range(1, 41)]))


def test_the_batch_plan_keeps_a_member_off_the_host_of_a_member_it_did_not_list():
    """compute2 is the emptiest target, but web-b lives there: web-a goes to compute3."""
    cloud = FakeCloud(hosts=("compute1", "compute2", "compute3"))
    web_a = cloud.add_server("compute1", name="web-a")
    web_b = cloud.add_server("compute2", name="web-b")
    for _index in range(3):
        cloud.add_server("compute3")
    cloud.groups = [group("g-web", "web", [web_a, web_b], policy="anti-affinity")]
    plan = plan_batch(read_cloud_model(cloud, servers_of=["compute1"]), ["compute1"], PlanSettings())
    assert [(move.name, move.to_host) for move in plan.batches[0].moves] == [("web-a", "compute3")]


def test_a_deleted_member_is_left_out(cloud):
    member = cloud.add_server("compute1")
    cloud.groups = [group("g-web", "web", [member, "gone"], policy="anti-affinity")]
    model = read_cloud_model(cloud, servers_of=["compute1"])
    assert [server.id for server in model.servers] == [member]


@pytest.mark.parametrize("host_count", [3, 100])
def test_request_count_grows_only_with_full_hosts(host_count):
    cloud = FakeCloud(hosts=["compute%03d" % index for index in range(host_count)])
    for host in ("compute000", "compute001"):
        for _index in range(8):
            cloud.add_server(host)
    model = read_cloud_model(cloud)
    assert len(model.hosts) == host_count
    assert [model.hosts[host].used["VCPU"] for host in ("compute000", "compute001", "compute002")] == [8, 8, 0]
    assert cloud.calls == LISTS + Counter({"placement.get": 2 * 2})


def test_hypervisor_pages_are_followed():
    cloud = FakeCloud(hosts=["compute%03d" % index for index in range(30)])
    cloud.hypervisor_page_size = 8
    model = read_cloud_model(cloud)
    assert all(host.capacity == CAPACITY for host in model.hosts.values())
    assert cloud.calls == LISTS + Counter({"compute.get": 3})


@pytest.mark.parametrize("flavor, need", [
    ({"vcpus": 2, "ram": 512, "disk": 10}, (2, 512, 10)),
    ({"vcpus": 2, "ram": 512, "disk": 10, "OS-FLV-EXT-DATA:ephemeral": 5}, (2, 512, 15)),
    ({"vcpus": 1, "ram": 64, "disk": 0, "swap": 1}, (1, 64, 1)),  # 1 MB of swap claims a whole GB
    ({"vcpus": 1, "ram": 64, "disk": 1, "swap": ""}, (1, 64, 1)),  # no swap as older Nova says it
    (FakeServer(vcpus=4, ram=4096, disk=40, ephemeral=0, swap=2048), (4, 4096, 42)),  # an SDK resource
    (None, (0, 0, 0)),
])
def test_flavor_need(flavor, need):
    assert flavor_need(flavor) == need


def test_disabled_by_us_means_by_the_session_planned(cloud):
    cloud.services["compute1"].status = "disabled"
    cloud.services["compute1"].disabled_reason = "fenix.maintenance: session s1: maintenance"
    hosts = read_cloud_model(cloud, session_id="s1").hosts
    assert [(h, hosts[h].disabled_by_us, hosts[h].disabled_reason) for h in sorted(hosts)] == [
        ("compute1", True, "fenix.maintenance: session s1: maintenance"),
        ("compute2", False, "fenix.maintenance: kernel 6.1"),  # ours without a session: not s1's
        ("compute3", False, "RMA 1234"),
        ("compute4", False, None),
    ]
    # The session's journal makes a reason without a session (an earlier version's) its own.
    assert read_cloud_model(cloud, session_id="s1", recorded=["compute2"]).hosts["compute2"].disabled_by_us
    # Planning without a session: another session's disable is not ours.
    assert not read_cloud_model(cloud).hosts["compute1"].disabled_by_us
