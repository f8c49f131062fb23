"""planning/requirements.py: the hosts Nova would accept for a server, and the plans that respect them."""

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.planning.input import read_cloud_model
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import PlanSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.planner import plan_batch, plan_maintenance
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.requirements import (
    ANY_HOST,
    Requirements,
    aggregate_allows,
    requirements_of,
)
from fakes import FakeCloud

HOSTS = ("compute1", "compute2", "compute3", "compute4", "compute5", "compute6")
FAST = {"trait:CUSTOM_FENIX_FAST": "required"}
PINNED = {"aggregate_instance_extra_specs:fenix_pinned": "true"}


def test_requirements_of_a_flavor():
    assert requirements_of({}, None) == (ANY_HOST, None)
    assert requirements_of({"quota:cpu_shares": "100", "hw:watchdog_action": "reset"}, None) == (ANY_HOST, None)
    needs, unmodelled = requirements_of(dict(FAST, **{"trait:HW_CPU_X86_AVX": "forbidden"}, **PINNED), "az1")
    assert unmodelled is None
    assert needs == Requirements(("CUSTOM_FENIX_FAST",), ("HW_CPU_X86_AVX",), "az1", (("fenix_pinned", "true"),))
    assert needs.describe() == ("traits CUSTOM_FENIX_FAST; none of the traits HW_CPU_X86_AVX; zone az1;"
                                " aggregate metadata fenix_pinned=true")


@pytest.mark.parametrize("spec", [{"hw:cpu_policy": "dedicated"}, {"pci_passthrough:alias": "gpu:1"},
                                  {"resources:CUSTOM_FPGA": "1"}, {"hw:numa_nodes": "2"}, {"capabilities:x": "y"}])
def test_an_extra_spec_the_planner_does_not_know_makes_the_server_unmodelled(spec):
    needs, unmodelled = requirements_of(dict(FAST, **spec), None)
    key, value = next(iter(spec.items()))
    assert needs == ANY_HOST
    assert unmodelled == "its flavor's extra spec %s=%s is not one the planner models" % (key, value)


def test_aggregate_metadata_as_the_filter_reads_it():
    assert aggregate_allows([("ssd", "true")], [{"ssd": "true"}, {}])
    assert aggregate_allows([("gen", "3")], [{"gen": "2, 3"}])  # a list of values allows each
    assert not aggregate_allows([("ssd", "true")], [{"ssd": "false"}])
    assert not aggregate_allows([("ssd", "true")], [])


@pytest.fixture
def cloud():
    """Two zones of three hosts; the trait on compute2 and compute6; the pinned aggregate compute3 and compute5."""
    fake = FakeCloud(hosts=HOSTS)
    for host in HOSTS[3:]:
        fake.services[host].availability_zone = "az2"
    for host in HOSTS[:3]:
        fake.services[host].availability_zone = "az1"
    fake.add_aggregate("az1", HOSTS[:3], availability_zone="az1")
    fake.add_aggregate("az2", HOSTS[3:], availability_zone="az2")
    fake.add_aggregate("pinned", ["compute3", "compute5"])
    fake.host_aggregates[-1].metadata = {"fenix_pinned": "true"}
    fake.traits["compute2"].add("CUSTOM_FENIX_FAST")
    fake.traits["compute6"].add("CUSTOM_FENIX_FAST")
    fake.api_versions["compute"] = ("2.1", "2.96")  # servers show the zone they are pinned to
    return fake


def test_each_server_is_planned_onto_a_host_nova_accepts(cloud):
    zoned = cloud.add_server("compute1", name="zoned", pinned_zone="az1")
    free = cloud.add_server("compute1", name="free")  # booted into no zone: any host
    fast = cloud.add_server("compute1", name="fast", extra_specs=FAST)
    fast_az2 = cloud.add_server("compute1", name="fast-az2", extra_specs=FAST, pinned_zone="az2")
    pinned = cloud.add_server("compute1", name="pinned", extra_specs=PINNED)
    dedicated = cloud.add_server("compute1", name="dedicated", extra_specs={"hw:cpu_policy": "dedicated"})
    model = read_cloud_model(cloud)
    # One Placement request for the one set of traits, besides the allocation candidates.
    assert cloud.calls["placement.get"] == 2

    plan = plan_maintenance(model, ["compute1"], PlanSettings(max_fill=1.0))
    assert plan.ok, plan.as_dict()
    targets = {move.server_id: move.to_host for batch in plan.batches for wave in batch.waves for move in wave}
    assert targets[zoned] in ("compute2", "compute3")
    assert targets[free] is not None
    assert targets[fast] in ("compute2", "compute6")
    assert targets[fast_az2] == "compute6"
    assert targets[pinned] in ("compute3", "compute5")
    # Where Nova may put it is not known: no target, the scheduler chooses, and the plan says why.
    assert targets[dedicated] is None
    assert plan.as_dict()["scheduler_moves"] == [{
        "server_id": dedicated, "name": "dedicated", "project_id": "p1", "host": "compute1",
        "reason": "its flavor's extra spec hw:cpu_policy=dedicated is not one the planner models"}]


def test_a_server_no_other_host_accepts_is_a_blocker_naming_its_needs(cloud):
    cloud.add_server("compute2", name="fast", extra_specs=FAST, pinned_zone="az1")
    plan = plan_batch(read_cloud_model(cloud), ["compute2"], PlanSettings())
    assert not plan.ok
    blocker, = plan.blockers
    assert blocker.name == "fast" and "the hosts its flavor and image allow" in blocker.reason


def test_without_pinned_zones_a_server_is_held_to_its_zone(cloud):
    """Before Nova 2.96 whether the server was booted into its zone is unknown: it stays in it."""
    cloud.api_versions["compute"] = ("2.1", "2.95")
    free = cloud.add_server("compute4", name="free")
    plan = plan_batch(read_cloud_model(cloud), ["compute4"], PlanSettings(max_fill=1.0))
    (server_id, target), = [(move.server_id, move.to_host) for batch in plan.batches for wave in batch.waves
                            for move in wave]
    assert server_id == free
    assert target in ("compute5", "compute6")


def test_one_zone_and_plain_flavors_ask_placement_nothing_more():
    cloud = FakeCloud(hosts=HOSTS[:3])
    cloud.add_server("compute1", extra_specs={"quota:cpu_shares": "10"})
    model = read_cloud_model(cloud)
    assert cloud.calls["placement.get"] == 1 and model.allowed_hosts == {} and model.candidate_filter() is None
