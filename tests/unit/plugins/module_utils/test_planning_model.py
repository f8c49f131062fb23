"""What the planner reads (planning/model.py) and what it returns (planning/plan.py)."""

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.drain import DEFAULT_POLICY
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import DEFAULT_PER_TARGET
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import (
    DEFAULT_MAX_FILL,
    UNLIMITED,
    CloudModel,
    HostModel,
    PlanSettings,
    ServerModel,
    label_of,
    validate_fill,
    validate_limit,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.plan import Batch, Blocker, Move, Plan
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import LIVE_MIGRATE, MIGRATE


def test_label_of_names_the_id_only_when_the_name_adds_something():
    assert label_of("web-1", "abc") == "web-1 (abc)"
    assert label_of("abc", "abc") == "abc"
    assert label_of(None, "abc") == "abc"
    assert label_of("", "abc") == "abc"


@pytest.mark.parametrize("value", [None, "", 1, "3", "25%", "0.5%"])
def test_validate_limit_accepts_counts_and_percentages(value):
    validate_limit("max_unavailable.zone", value)


@pytest.mark.parametrize("value", [0, "-2", "many", "x%"])
def test_validate_limit_names_the_option(value):
    with pytest.raises(ValueError) as caught:
        validate_limit("max_unavailable.zone", value)
    assert str(caught.value).startswith("max_unavailable.zone: %r is not a number of hosts" % value)


def test_free_counts_a_class_without_inventory_as_unlimited():
    host = HostModel("h1", capacity={"VCPU": 8, "MEMORY_MB": 4096}, used={"VCPU": 3, "MEMORY_MB": 1024, "DISK_GB": 10})
    assert host.free() == [5, 3072, UNLIMITED - 10]


def test_settings_policy_falls_back_to_the_drain_default():
    settings = PlanSettings(server_policy={"active": "cold", "shutoff": ""})
    assert settings.policy("active") == "cold"
    assert settings.policy("shutoff") == DEFAULT_POLICY["shutoff"]
    assert PlanSettings(server_policy=None).policy("other") == DEFAULT_POLICY["other"]


def test_with_constraints_adds_rules_and_groups_only_ungrouped_servers():
    servers = [
        ServerModel("s1", "one", "p1", "h1", "ACTIVE"),
        ServerModel("s2", "two", "p1", "h1", "ACTIVE", group_id="nova-group", group_policy="anti-affinity"),
    ]
    model = CloudModel(hosts={"h1": HostModel("h1")}, servers=servers, group_names={"nova-group": "from nova"})
    model.with_constraints(
        [{"group_id": "ig", "group_name": "db", "max_impacted_members": "0", "max_instances_per_host": 2,
          "anti_affinity_group": 1, "recovery_time": None}],
        [{"instance_id": "s1", "group_id": "ig", "lead_time": "30", "migration_type": MIGRATE},
         {"instance_id": "s2", "group_id": "ig"}],
    )
    rule = model.groups["ig"]
    assert (rule.max_impacted_members, rule.max_instances_per_host, rule.anti_affinity_group, rule.recovery_time) \
        == (None, 2, True, 0.0)
    assert model.group_names == {"nova-group": "from nova", "ig": "db"}
    assert model.instances["s1"].lead_time == 30.0 and model.instances["s1"].migration_type == MIGRATE
    assert [server.group_id for server in servers] == ["ig", "nova-group"]


def test_blocker_message_and_dict():
    named = Blocker("s1", "web", "p1", "h1", "no room")
    assert named.message == "server web (s1) of project p1 cannot move: no room"
    assert Blocker("s2", "s2", "p1", "h1", "no room").message == "server s2 of project p1 cannot move: no room"
    assert named.as_dict() == {"server_id": "s1", "name": "web", "project_id": "p1", "host": "h1",
                               "reason": "no room", "message": named.message}


def test_plan_as_dict_counts_moves_and_sorts_its_lists():
    first = Move("s1", "p1", "a", "h1", "h3", LIVE_MIGRATE, group_id="g")
    second = Move("s2", "p2", "b", "h1", "h4", MIGRATE, moves_again=True)
    batch = Batch(hosts=["h1", "h2"], waves=[[first], [second]], estimated_seconds=12.345)
    plan = Plan(batches=[batch], unplanned_hosts={"h9": "down", "h5": "full"},
                projects={"p2": ["s2"], "p1": ["s1"]}, estimated_seconds=12.345, double_moves=1)
    assert batch.moves == [first, second]
    assert not plan.ok
    data = plan.as_dict()
    assert data["serial"] == [2]
    assert data["moves"] == 2 and data["double_moves"] == 1
    assert data["estimated_seconds"] == 12.3 and data["batches"][0]["estimated_seconds"] == 12.3
    # The keys and their order are those of the dataclass Move was (the journal stores this JSON).
    assert list(data["batches"][0]["waves"][1][0].items()) == [
        ("server_id", "s2"), ("project_id", "p2"), ("name", "b"), ("from_host", "h1"), ("to_host", "h4"),
        ("kind", MIGRATE), ("group_id", None), ("fenix_group_id", None), ("moves_again", True)]
    assert data["unplanned_hosts"] == [{"host": "h5", "reason": "full"}, {"host": "h9", "reason": "down"}]
    assert [entry["project_id"] for entry in data["projects"]] == ["p1", "p2"]
    assert data["over_fill"] is None
    assert Plan().ok


def test_settings_default_to_an_85_percent_fill_and_the_executors_migrations_per_target():
    settings = PlanSettings()
    assert settings.max_fill == DEFAULT_MAX_FILL == 0.85
    assert settings.incoming_per_host == DEFAULT_PER_TARGET == 4


@pytest.mark.parametrize("value", [0.85, 1, 0.01])
def test_validate_fill_accepts_fractions_up_to_one(value):
    validate_fill("max_target_fill", value)


@pytest.mark.parametrize("value", [0, -0.2, 1.01, 85])
def test_validate_fill_names_the_option_and_the_range(value):
    with pytest.raises(ValueError, match=r"^max_target_fill: .* is not a fraction of a host's capacity; give a number"
                                         r" above 0 and at most 1"):
        validate_fill("max_target_fill", value)


def test_move_groups_are_its_nova_then_its_fenix_group():
    assert Move("s", "p", "n", "a", "b", LIVE_MIGRATE).groups == ()
    assert Move("s", "p", "n", "a", "b", LIVE_MIGRATE, "g").groups == ("g",)
    assert Move("s", "p", "n", "a", "b", LIVE_MIGRATE, "g", fenix_group_id="f").groups == ("g", "f")
    assert Move("s", "p", "n", "a", "b", LIVE_MIGRATE, None, fenix_group_id="f").groups == ("f",)


def test_move_compares_by_value_and_holds_no_dict():
    move = Move("s1", "p1", "a", "h1", "h3", LIVE_MIGRATE, "g")
    assert move == Move("s1", "p1", "a", "h1", "h3", LIVE_MIGRATE, group_id="g", moves_again=False)
    assert move != Move("s1", "p1", "a", "h1", "h3", LIVE_MIGRATE, "g", moves_again=True)
    assert move != move.as_dict()
    assert repr(move).startswith("Move(server_id='s1', project_id='p1', name='a', from_host='h1', to_host='h3'")
    assert not hasattr(move, "__dict__")  # slots: a plan of 2,000,000 moves stays small
    with pytest.raises(TypeError):
        hash(move)  # mutable, so unhashable like the dataclass it was
