import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import read_hosts, resources_from_placement
from fakes import FakeCloud


def test_capacity_uses_reserved_and_allocation_ratio():
    resources = resources_from_placement(
        {"MEMORY_MB": {"total": 4096, "reserved": 512, "allocation_ratio": 1.5}}, {"MEMORY_MB": 1000}
    )
    assert resources["MEMORY_MB"]["capacity"] == 5376
    assert resources["MEMORY_MB"]["free"] == 4376


def test_hosts_with_servers_grouped_by_project():
    cloud = FakeCloud()
    a = cloud.add_server("compute1", project_id="p1")
    cloud.add_server("compute1", project_id="p2")
    cloud.add_server("compute2", project_id="p1")
    cloud.groups = [type("G", (), dict(id="g1", name="aa", policy="anti-affinity", policies=None, member_ids=[a]))()]
    hosts = read_hosts(cloud)
    assert [h.host for h in hosts] == ["compute1", "compute2", "compute3"]
    first = hosts[0].as_dict({"p1": "tenant-a"})
    assert first["server_count"] == 2
    assert [p["project_id"] for p in first["projects"]] == ["p1", "p2"]
    assert first["projects"][0]["project_name"] == "tenant-a"
    assert first["projects"][0]["servers"][0]["server_group"]["policy"] == "anti-affinity"
    assert first["resources"]["VCPU"]["used"] == 2


@pytest.mark.parametrize("servers_per_host", [1, 50])
def test_request_count_does_not_grow_with_servers(servers_per_host):
    cloud = FakeCloud()
    for host in ("compute1", "compute2", "compute3"):
        for _index in range(servers_per_host):
            cloud.add_server(host)
    read_hosts(cloud, hosts=["compute1", "compute2"])
    # services + hypervisors + server groups + one server list per host + 2 placement reads per host
    assert sum(cloud.calls.values()) == 1 + 1 + 1 + 2 + 4


def test_unknown_host_is_named():
    with pytest.raises(LookupError, match="nope.*known hosts: compute1, compute2, compute3"):
        read_hosts(FakeCloud(), hosts=["compute1", "nope"])
