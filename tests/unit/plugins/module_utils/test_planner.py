"""The planner: every rule holds for every plan of random clouds, and worked examples."""

import gc
import math
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import (
    CloudModel,
    GroupRule,
    HostModel,
    InstanceRule,
    PlanSettings,
    ServerModel,
    resolve_limit,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.planning import planner
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.explain import estimate_text
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.plan import Move
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.planner import (
    group_host_limit,
    host_limit,
    plan_batch,
    plan_maintenance,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import LIVE_MIGRATE, MIGRATE, OWN_ACTION

STATUSES = ["ACTIVE", "ACTIVE", "ACTIVE", "SHUTOFF", "PAUSED", "ERROR"]


def host(name, vcpus=8, ram=8192, disk=100, zone="nova", aggregates=(), enabled=True, up=True):
    return HostModel(name=name, availability_zone=zone, aggregates=tuple(aggregates),
                     capacity={"VCPU": vcpus, "MEMORY_MB": ram, "DISK_GB": disk},
                     used={"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}, enabled=enabled, up=up)


def cloud(hosts, servers, groups=(), instances=()):
    """A model whose usage is the sum of the servers' flavors."""
    by_name = {h.name: h for h in hosts}
    for server in servers:
        used = by_name[server.host].used
        used["VCPU"] += server.vcpus
        used["MEMORY_MB"] += server.ram_mb
        used["DISK_GB"] += server.disk_gb
    return CloudModel(hosts=by_name, servers=list(servers), groups={g.group_id: g for g in groups},
                      instances={i.instance_id: i for i in instances})


def vm(server_id, on, vcpus=1, ram=256, disk=1, status="ACTIVE", project="p1", group=None, policy=None):
    return ServerModel(id=server_id, name="vm-" + server_id, project_id=project, host=on, status=status,
                       vcpus=vcpus, ram_mb=ram, disk_gb=disk, group_id=group, group_policy=policy)


# ---------------------------------------------------------------------------
# The rules, checked independently of the planner's own bookkeeping
# ---------------------------------------------------------------------------

def fill_of(model, used, name):
    """The fraction of its capacity a host uses in its fullest resource (a resource it has no inventory of: none)."""
    capacity = model.hosts[name].capacity
    return max([amount / capacity[rc] for amount, rc in zip(used[name], ("VCPU", "MEMORY_MB", "DISK_GB"))
                if capacity.get(rc, 0) > 0] or [0.0])


def room_under(model, used, name, need, max_fill):
    """The host has the room for ``need`` without passing max_fill of any resource (a hair to spare)."""
    capacity = model.hosts[name].capacity
    return all(amount + wanted <= max_fill * capacity[rc] - 1e-9 if rc in capacity else True
               for amount, wanted, rc in zip(used[name], need, ("VCPU", "MEMORY_MB", "DISK_GB")))


def busiest_seconds(wave, side, at_once, plan_settings):
    """How long the wave's busiest source (side "from_host") or target ("to_host") is busy, ``at_once`` at a time."""
    counts = defaultdict(Counter)
    for m in wave:
        host = getattr(m, side)
        if host is not None:
            counts[host][m.kind == MIGRATE] += 1
    at_once = max(1, at_once)
    return max((math.ceil(kinds[False] / at_once) * plan_settings.live_migration_seconds
                + math.ceil(kinds[True] / at_once) * plan_settings.cold_migration_seconds
                for kinds in counts.values()), default=0.0)


def location_count(model, name):
    return sum(1 for server in model.servers if server.host == name)


def check_plan(model, hosts, plan_settings, plan, maintained=(), later=()):
    """Replay the plan batch by batch and assert every rule of issue 4 (``later``: hosts of later batches)."""
    location = {s.id: s.host for s in model.servers}
    servers = {s.id: s for s in model.servers}
    free = {name: h.free() for name, h in model.hosts.items()}
    used = {name: [h.used.get(rc, 0) for rc in ("VCPU", "MEMORY_MB", "DISK_GB")] for name, h in model.hosts.items()}
    over_fill_hosts = set((plan.over_fill or {}).get("hosts", ()))
    to_maintain = set(hosts) - set(maintained)
    done = set(maintained)
    zone_size, agg_size, down_zone, down_agg = Counter(), Counter(), Counter(), Counter()
    for h in model.hosts.values():
        zone_size[h.availability_zone] += 1
        for agg in h.aggregates:
            agg_size[agg] += 1
        if not h.up:
            down_zone[h.availability_zone] += 1
            for agg in h.aggregates:
                down_agg[agg] += 1
    limits = {}
    for s in model.servers:
        if s.group_id is not None:
            limits.setdefault(s.group_id, group_host_limit(s, model.groups.get(s.group_id)))
    for s in model.servers:
        if s.fenix_group_id is not None:  # a Fenix group beside the Nova group: no Nova policy of its own
            limits.setdefault(s.fenix_group_id, host_limit(None, model.groups.get(s.fenix_group_id)))
    planned = set()
    # ramp_up: with nothing maintained and no host to maintain empty, batch k has at most 2**k hosts.
    ramping = plan_settings.ramp_up and not maintained and all(location_count(model, name) for name in to_maintain)
    for index, batch in enumerate(plan.batches):
        batch_hosts = set(batch.hosts)
        assert len(batch.hosts) == len(batch_hosts)
        assert len(batch.hosts) <= plan_settings.max_parallel_hosts
        assert not ramping or len(batch.hosts) <= 2 ** index, (index, batch.hosts)
        assert batch_hosts <= to_maintain - done, "a host is planned twice or was not asked for"
        # max_unavailable per zone / aggregate, hosts already down included
        up_zone, up_agg = Counter(), Counter()
        for name in batch.hosts:
            h = model.hosts[name]
            if h.up:
                up_zone[h.availability_zone] += 1
                for agg in h.aggregates:
                    up_agg[agg] += 1
        for zone, count in up_zone.items():
            limit = resolve_limit(plan_settings.max_unavailable_per_zone, zone_size[zone])
            assert limit is None or count + down_zone[zone] <= limit, (zone, count, limit)
        for agg, count in up_agg.items():
            limit = resolve_limit(plan_settings.max_unavailable_per_aggregate, agg_size[agg])
            assert limit is None or count + down_agg[agg] <= limit, (agg, count, limit)
        # every server on the batch's hosts moves once or is skipped
        on_batch = {sid for sid, where in location.items() if where in batch_hosts}
        moved = [m for wave in batch.waves for m in wave]
        skipped = {item["server_id"] for item in batch.skipped}
        assert len({m.server_id for m in moved}) == len(moved)
        assert {m.server_id for m in moved} | skipped == on_batch
        assert not skipped & {m.server_id for m in moved}
        for sid in skipped:
            key = servers[sid].status.lower() if servers[sid].status in ("ACTIVE", "PAUSED", "SHUTOFF") else "other"
            assert plan_settings.policy(key) == "skip"
        staying = Counter(group for sid in skipped for group in servers[sid].groups)
        for m in moved:
            s = servers[m.server_id]
            assert m.from_host == location[m.server_id]
            rule = model.instances.get(s.id)
            own = rule.action if rule else None
            if own == OWN_ACTION:  # the project moves it itself: no target planned
                assert m.kind == OWN_ACTION and m.to_host is None
                continue
            assert m.to_host not in batch_hosts, "target in the same batch"
            target = model.hosts[m.to_host]
            assert target.enabled and target.up, "target disabled or down"
            assert s.group_policy != "affinity"
            if s.status == "SHUTOFF":
                assert m.kind == MIGRATE
            elif s.status == "PAUSED":
                assert m.kind == LIVE_MIGRATE
            else:
                # The project's migration_type stands; server_policy decides for the others, never a cold move
                # longer than the instance's max_interruption_time.
                assert s.status == "ACTIVE"
                too_long = rule is not None and rule.interrupted_too_long_by(plan_settings.cold_migration_seconds)
                if own == MIGRATE:
                    assert not too_long, "a cold move its max_interruption_time forbids"
                cold = own == MIGRATE or (own is None and plan_settings.policy("active") == "cold" and not too_long)
                assert m.kind == (MIGRATE if cold else LIVE_MIGRATE)
            assert m.moves_again == ((m.to_host in to_maintain or m.to_host in later) and m.to_host not in done)
        # max_impacted_members per wave (members left on batch hosts count in every wave)
        for wave in batch.waves:
            assert wave, "empty wave"
            in_wave = Counter(group for m in wave for group in servers[m.server_id].groups)
            for group_id, count in in_wave.items():
                rule = model.groups.get(group_id)
                if rule and rule.max_impacted_members:
                    assert count + staying[group_id] <= rule.max_impacted_members
        for group_id, count in staying.items():
            rule = model.groups.get(group_id)
            if rule and rule.max_impacted_members:
                assert count <= rule.max_impacted_members
        # the estimate: every wave lasts at least as long as its busiest source and its busiest target are busy;
        # waves run together (concurrency above 1, only migrations) last as long as the busiest over all of them
        parts = batch.estimate
        overlapped = (plan_settings.concurrency > 1 and len(batch.waves) > 1
                      and all(m.kind in (LIVE_MIGRATE, MIGRATE) for m in batch.moves))
        assert parts.overlapped is overlapped
        together = [batch.moves] if overlapped else batch.waves
        bound = plan_settings.host_seconds + sum(
            max(busiest_seconds(wave, "from_host", plan_settings.migrations_per_host, plan_settings),
                busiest_seconds(wave, "to_host", plan_settings.incoming_per_host, plan_settings))
            for wave in together)
        assert batch.estimated_seconds >= bound - 1e-6, (batch.estimated_seconds, bound)
        # its parts add up to it, one part per wave (one for waves run together), and the batch says why it is
        # not wider
        assert parts.total == pytest.approx(batch.estimated_seconds) and len(parts.waves) == len(together)
        assert not (overlapped and parts.recovery), "waves run together count their recovery in their one figure"
        assert parts.host == plan_settings.host_seconds and batch.bound, batch
        # apply the batch: capacity and anti-affinity on every target
        for m in moved:
            s = servers[m.server_id]
            for index, amount in enumerate((s.vcpus, s.ram_mb, s.disk_gb)):
                free[m.from_host][index] += amount
                used[m.from_host][index] -= amount
                if m.to_host is not None:  # an OWN_ACTION instance leaves the model
                    free[m.to_host][index] -= amount
                    used[m.to_host][index] += amount
            location[m.server_id] = m.to_host
        members = defaultdict(Counter)
        for sid, where in location.items():
            for group_id in servers[sid].groups:
                if where is not None:
                    members[group_id][where] += 1
        for m in moved:
            if m.to_host is None:
                continue
            assert min(free[m.to_host]) >= 0, "target %s lacks capacity: %s" % (m.to_host, free[m.to_host])
            for group_id in servers[m.server_id].groups:
                if limits.get(group_id) is not None:
                    assert members[group_id][m.to_host] <= limits[group_id], "group %s crowded on %s" % (
                        group_id, m.to_host)
        # max_fill: a target past it is named in the plan, and one of its servers had no other host with the
        # room under it (hosts only fill up during a batch, so room at its end was room when it was placed)
        eligible = [name for name, h in model.hosts.items() if h.enabled and h.up and name not in batch_hosts]
        for target in {m.to_host for m in moved if m.to_host is not None}:
            if fill_of(model, used, target) <= plan_settings.max_fill + 1e-9:
                continue
            assert target in over_fill_hosts, "target %s filled to %.3f, past max_fill %s, unreported" % (
                target, fill_of(model, used, target), plan_settings.max_fill)

            def had_no_other_room(s):
                return not any(room_under(model, used, name, (s.vcpus, s.ram_mb, s.disk_gb), plan_settings.max_fill)
                               and all(limits.get(g) is None or members[g][name] < limits[g] for g in s.groups)
                               for name in eligible if name != target)
            assert any(had_no_other_room(servers[m.server_id]) for m in moved if m.to_host == target), (
                "target %s past max_fill while another host had the room" % target)
        done |= batch_hosts
        planned |= batch_hosts
    # every host is planned or named unplanned, with its blockers
    assert planned | set(plan.unplanned_hosts) == to_maintain
    assert not planned & set(plan.unplanned_hosts)
    assert all(plan.unplanned_hosts.values())
    assert {b.host for b in plan.blockers} <= set(plan.unplanned_hosts)
    for blocker in plan.blockers:
        assert blocker.message.startswith("server ") and " of project %s cannot move: " % blocker.project_id in blocker.message
    if any("capacity is short" in b.reason for b in plan.blockers):
        assert plan.scale_in is not None and plan.scale_in["servers"] > 0
    assert plan.serial == [len(b.hosts) for b in plan.batches]
    assert plan.estimated_seconds == pytest.approx(sum(b.estimated_seconds for b in plan.batches))
    if plan.over_fill is not None:
        assert plan.over_fill["max_fill"] == plan_settings.max_fill and plan.over_fill["servers"] > 0
        assert plan.over_fill["hosts"] and plan_settings.max_fill < 1
    as_dict = plan.as_dict()
    assert as_dict["serial"] == plan.serial
    assert sum(len(b["waves"]) for b in as_dict["batches"]) == sum(len(b.waves) for b in plan.batches)


# ---------------------------------------------------------------------------
# Random clouds
# ---------------------------------------------------------------------------

@st.composite
def random_cloud(draw, easy=False):
    n_hosts = draw(st.integers(2, 10))
    zones = draw(st.integers(1, 3))
    hosts = []
    for index in range(n_hosts):
        aggs = draw(st.lists(st.sampled_from(["agg-a", "agg-b", "agg-c"]), max_size=2, unique=True))
        hosts.append(host(
            "h%02d" % index, vcpus=draw(st.integers(2, 12)), ram=draw(st.sampled_from([1024, 2048, 4096])),
            disk=draw(st.integers(10, 60)), zone="az%d" % (index % zones), aggregates=aggs,
            enabled=easy or draw(st.booleans()) or draw(st.booleans()),
            up=easy or draw(st.integers(0, 6)) > 0,
        ))
    groups = []
    n_groups = 0 if easy else draw(st.integers(0, 4))
    for index in range(n_groups):
        groups.append(GroupRule("g%d" % index, max_impacted_members=draw(st.one_of(st.none(), st.integers(1, 3))),
                                max_instances_per_host=draw(st.one_of(st.none(), st.integers(1, 2))),
                                recovery_time=draw(st.integers(0, 30))))
    group_policy = {"g%d" % i: draw(st.sampled_from([None, "anti-affinity", "affinity", "soft-anti-affinity"]))
                    for i in range(n_groups)}
    servers = []
    room = {h.name: [h.capacity["VCPU"], h.capacity["MEMORY_MB"], h.capacity["DISK_GB"]] for h in hosts}
    aa_hosts = defaultdict(set)
    for index in range(draw(st.integers(0, 30))):
        on = draw(st.sampled_from([h.name for h in hosts]))
        need = (draw(st.integers(1, 3)), draw(st.sampled_from([256, 512, 1024])), draw(st.integers(1, 10)))
        if any(r < n for r, n in zip(room[on], need)):
            continue  # Nova would not have put it there
        group = draw(st.one_of(st.none(), st.sampled_from(["g%d" % i for i in range(n_groups)]))) if n_groups else None
        policy = group_policy.get(group)
        if policy == "anti-affinity":
            if on in aa_hosts[group]:
                continue
            aa_hosts[group].add(on)
        status = "ACTIVE" if easy else draw(st.sampled_from(STATUSES))
        room[on] = [r - n for r, n in zip(room[on], need)]
        servers.append(vm("s%03d" % index, on, *need, status=status, project="p%d" % (index % 3),
                          group=group, policy=policy))
    instances = []
    # Fenix instance groups that VNFMs make of servers, some of them in a Nova server group too.
    fenix_groups = [] if easy else ["f%d" % index for index in range(draw(st.integers(0, 2)))]
    for name in fenix_groups:
        groups.append(GroupRule(name, max_impacted_members=draw(st.integers(1, 2)),
                                anti_affinity_group=draw(st.booleans()), recovery_time=draw(st.integers(0, 30))))
    for server in servers:
        fenix_group = draw(st.sampled_from([None, None] + fenix_groups))
        if fenix_group is not None or draw(st.integers(0, 4)) == 0:
            instances.append(InstanceRule(
                server.id, migration_type=draw(st.sampled_from([None, "MIGRATE", "LIVE_MIGRATE", "OWN_ACTION", "EVICTION"])),
                max_interruption_time=None if easy else draw(st.sampled_from([None, 0, 5, 60])),
                lead_time=draw(st.integers(0, 60)), group_id=fenix_group))
    model = cloud(hosts, servers, groups, instances).with_constraints([], [])
    names = sorted(model.hosts)
    to_maintain = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    maintained = [] if easy else draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    limit = st.one_of(st.none(), st.integers(1, 3), st.sampled_from(["50%", "25%", "100%"]))
    plan_settings = PlanSettings(
        max_parallel_hosts=draw(st.integers(1, 6)),
        max_unavailable_per_zone=None if easy else draw(limit),
        max_unavailable_per_aggregate=None if easy else draw(limit),
        max_fill=draw(st.sampled_from([0.85, 0.85, 0.5, 0.7, 1.0])),
        migrations_per_host=draw(st.integers(1, 3)),
        incoming_per_host=draw(st.integers(1, 4)),
        concurrency=draw(st.sampled_from([1, 2, 8])),
        ramp_up=draw(st.booleans()),
        server_policy={
            "active": draw(st.sampled_from(["live", "cold"])) if easy else draw(st.sampled_from(["live", "cold", "skip"])),
            "paused": "live",
            "shutoff": "cold",
            "other": draw(st.sampled_from(["skip", "fail"])),
        },
    )
    return model, to_maintain, maintained, plan_settings


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_cloud())
def test_no_plan_breaks_a_rule(case):
    model, hosts, maintained, plan_settings = case
    plan = plan_maintenance(model, hosts, plan_settings, maintained=maintained)
    check_plan(model, hosts, plan_settings, plan, maintained)


@settings(max_examples=200, deadline=None)
@given(random_cloud(easy=True))
def test_with_a_roomy_host_outside_every_host_is_planned(case):
    """Plain servers, no limits, and one large host outside the maintenance: a plan always exists."""
    model, hosts, maintained, plan_settings = case
    model.hosts["spare"] = host("spare", vcpus=1000, ram=10 ** 6, disk=10 ** 5)
    plan = plan_maintenance(model, hosts, plan_settings, maintained=maintained)
    check_plan(model, hosts, plan_settings, plan, maintained)
    assert not plan.unplanned_hosts and not plan.blockers and plan.scale_in is None
    assert sum(plan.serial) == len(set(hosts))
    # The spare always has the room under max_fill: no target passes it.
    assert plan.over_fill is None
    used = {name: [h.used[rc] for rc in ("VCPU", "MEMORY_MB", "DISK_GB")] for name, h in model.hosts.items()}
    for batch in plan.batches:
        for m in batch.moves:
            s = next(s for s in model.servers if s.id == m.server_id)
            for index, amount in enumerate((s.vcpus, s.ram_mb, s.disk_gb)):
                used[m.from_host][index] -= amount
                if m.to_host is not None:  # OWN_ACTION: its project moves it, it leaves the model
                    used[m.to_host][index] += amount
        for m in batch.moves:
            if m.to_host is not None:
                assert fill_of(model, used, m.to_host) <= plan_settings.max_fill + 1e-9


@settings(max_examples=200, deadline=None)
@given(random_cloud(), st.data())
def test_batch_mode_plans_all_given_hosts_or_names_why(case, data):
    model, hosts, maintained, plan_settings = case
    batch = data.draw(st.lists(st.sampled_from(sorted(hosts)), min_size=1, unique=True))
    pending = [h for h in hosts if h not in batch]
    plan = plan_batch(model, batch, plan_settings, maintained=maintained, pending=pending)
    if plan.batches:
        assert plan.ok and plan.batches[0].hosts == sorted(batch)
        # Batch mode plans exactly the hosts given: their number is the width, and ramp_up does not apply.
        batch_settings = PlanSettings(**dict(vars(plan_settings), max_parallel_hosts=len(batch), ramp_up=False))
        check_plan(model, batch, batch_settings, plan,
                   [m for m in maintained if m not in batch], later=[h for h in pending if h not in maintained])
    else:
        assert plan.unplanned_hosts


# ---------------------------------------------------------------------------
# Examples
# ---------------------------------------------------------------------------

def test_scale_in_names_what_is_missing():
    model = cloud([host("a", vcpus=4), host("b", vcpus=4)],
                  [vm("a1", "a"), vm("a2", "a"), vm("a3", "a"), vm("b1", "b"), vm("b2", "b"), vm("b3", "b")])
    plan = plan_maintenance(model, ["a", "b"], PlanSettings(max_parallel_hosts=2))
    assert plan.batches == []
    # each host's 3 vCPU need the other host's 1 free vCPU: 2 vCPU (2 servers) short
    assert plan.scale_in == {"vcpus": 2, "memory_mb": 512, "disk_gb": 2, "servers": 2, "hosts": ["a", "b"]}
    assert sorted(plan.unplanned_hosts) == ["a", "b"]
    assert "capacity is short" in plan.blockers[0].message


def test_prepare_host_is_the_host_with_fewest_servers_when_none_is_empty():
    model = cloud([host("a"), host("b"), host("c")],
                  [vm("a1", "a"), vm("a2", "a"), vm("b1", "b"), vm("c1", "c"), vm("c2", "c"), vm("c3", "c")])
    plan = plan_maintenance(model, ["a", "b", "c"], PlanSettings())
    assert plan.prepare_host == "b"
    assert plan.batches[0].hosts == ["b"]
    # its server goes to the least filled host (a: 2 of 8 vCPU used, c: 3), of a later batch: it will move again
    assert plan.batches[0].moves[0].to_host == "a" and plan.batches[0].moves[0].moves_again
    assert plan.double_moves == 1


def test_empty_hosts_go_first_and_no_prepare_is_needed():
    model = cloud([host("a"), host("b"), host("c")], [vm("a1", "a"), vm("b1", "b")])
    plan = plan_maintenance(model, ["a", "b", "c"], PlanSettings(max_parallel_hosts=1))
    assert plan.prepare_host is None
    assert plan.batches[0].hosts == ["c"]
    # later servers go to the maintained host first
    assert plan.batches[1].moves[0].to_host == "c" and not plan.batches[1].moves[0].moves_again
    assert plan.double_moves == 0


def test_targets_prefer_maintained_then_outside_then_later_hosts():
    model = cloud([host("old"), host("out"), host("x"), host("y")], [vm("x1", "x"), vm("x2", "x", vcpus=8)])
    plan = plan_maintenance(model, ["old", "x", "y"], PlanSettings(), maintained=["old"])
    targets = {m.server_id: m.to_host for m in plan.batches[-1].moves}
    # y is empty: first batch. Then x: the big one fills y (maintained by then), the small one goes to old.
    assert plan.serial == [1, 1] and plan.batches[0].hosts == ["y"]
    assert targets == {"x2": "old", "x1": "old"} or set(targets.values()) <= {"old", "y"}
    model = cloud([host("out"), host("x"), host("z")], [vm("x1", "x"), vm("z1", "z")])
    plan = plan_maintenance(model, ["x", "z"], PlanSettings(max_parallel_hosts=2))
    assert plan.serial == [2] and {m.to_host for m in plan.batches[0].moves} == {"out"}


def test_blocker_wording():
    model = cloud([host("a"), host("b")], [
        vm("s1", "a", status="ERROR", project="p9"),
        vm("s2", "a", group="g1", policy="affinity", project="p9"),
    ])
    model.group_names["g1"] = "db-pair"
    plan = plan_maintenance(model, ["a"], PlanSettings())
    messages = sorted(b.message for b in plan.blockers)
    assert messages[0] == ("server vm-s1 (s1) of project p9 cannot move: its status is ERROR and server_policy.other"
                           " is fail; set server_policy.other to skip to go on")
    assert messages[1].startswith("server vm-s2 (s2) of project p9 cannot move: it is in the affinity server group"
                                  " db-pair (g1)")
    assert plan.unplanned_hosts["a"].startswith("2 of its servers cannot move")
    assert plan.as_dict()["blockers"][0]["message"].startswith("server ")


def test_anti_affinity_member_finds_the_one_host_without_a_member():
    hosts = [host("c1"), host("c2"), host("c3"), host("c4")]
    servers = [vm("aa%d" % i, "c%d" % i, group="aa", policy="anti-affinity") for i in (1, 2, 3)]
    servers += [vm("x%d" % i, "c%d" % i) for i in (1, 2, 3, 4)]
    model = cloud(hosts, servers)
    plan = plan_maintenance(model, ["c1", "c2", "c3", "c4"], PlanSettings(max_parallel_hosts=4))
    check_plan(model, ["c1", "c2", "c3", "c4"], PlanSettings(max_parallel_hosts=4), plan)
    assert sum(plan.serial) == 4 and not plan.blockers
    first = plan.batches[0]
    aa_moves = [m for m in first.moves if m.group_id == "aa"]
    assert all(m.to_host == "c4" for m in aa_moves) and len(aa_moves) <= 1


def test_no_room_without_another_member_is_a_blocker():
    hosts = [host("c1"), host("c2")]
    servers = [vm("aa1", "c1", group="aa", policy="anti-affinity"), vm("aa2", "c2", group="aa", policy="anti-affinity")]
    plan = plan_maintenance(cloud(hosts, servers), ["c1"], PlanSettings())
    assert plan.blockers[0].reason.startswith("no enabled host outside its batch has room for it without another member")
    assert plan.scale_in is None


def test_batch_sizes_grow_when_rules_allow_and_max_parallel_hosts_caps_them():
    hosts = [host("h%d" % i, vcpus=4) for i in range(8)]
    servers = [vm("s%d-%d" % (i, j), "h%d" % i) for i in range(8) for j in range(2)]
    model = cloud(hosts, servers)
    names = [h.name for h in hosts]
    one = plan_maintenance(model, names, PlanSettings(max_parallel_hosts=1))
    many = plan_maintenance(model, names, PlanSettings(max_parallel_hosts=8))
    check_plan(model, names, PlanSettings(max_parallel_hosts=8), many)
    assert one.serial == [1] * 8
    assert sum(many.serial) == 8 and len(many.serial) < 8 and max(many.serial) > 1
    capped = plan_maintenance(cloud([host("e%d" % i) for i in range(10)], []), ["e%d" % i for i in range(10)],
                              PlanSettings(max_parallel_hosts=3))
    assert capped.serial == [3, 3, 3, 1]


def test_each_batch_says_what_bounds_its_width():
    # Issue 13's dry run: a 3-member anti-affinity group on 4 hosts keeps the batches to one host.
    hosts = [host("c%d" % i) for i in (1, 2, 3, 4)]
    servers = [vm("aa%d" % i, "c%d" % i, group="aa", policy="anti-affinity") for i in (1, 2, 3)]
    model = cloud(hosts, servers)
    plan = plan_maintenance(model, ["c1", "c2", "c3", "c4"], PlanSettings(max_parallel_hosts=4))
    assert [batch.hosts for batch in plan.batches] == [["c4"], ["c1"], ["c2"], ["c3"]]
    assert plan.batches[1].bound == (
        "c2 cannot join it (nor can 1 more): 1 of its servers cannot move: server vm-aa2 (aa2) of project p1 cannot"
        " move: no enabled host outside its batch has room for it without another member of group aa on it")
    assert plan.batches[-1].bound == "no other host is left to maintain"
    # No host is empty and none outside: the first host's servers go to the second, which waits for the next batch.
    pair = cloud([host("h0"), host("h1")], [vm("a", "h0"), vm("b", "h1"), vm("c", "h1")])
    plan = plan_maintenance(pair, ["h0", "h1"], PlanSettings(max_parallel_hosts=2))
    assert plan.batches[0].hosts == ["h0"] and plan.batches[0].bound == "h1, the next host, takes servers of this batch"
    capped = plan_maintenance(cloud([host("e%d" % i) for i in range(3)], []), ["e0", "e1", "e2"],
                              PlanSettings(max_parallel_hosts=2))
    assert [batch.bound for batch in capped.batches] == ["max_parallel_hosts is 2", "no other host is left to maintain"]
    zones = cloud([host("a%d" % i, zone="az-a") for i in range(2)], [])
    plan = plan_maintenance(zones, ["a0", "a1"], PlanSettings(max_parallel_hosts=8, max_unavailable_per_zone=1))
    assert plan.batches[0].bound == "a1 cannot join it: availability zone az-a would have more than 1 hosts down" \
        " (max_unavailable)"
    assert plan_batch(zones, ["a0"], PlanSettings()).batches[0].bound == "the hosts given as the batch"


def test_the_estimate_has_its_parts():
    hosts = [host("c1"), host("c2")]
    servers = [vm("m%d" % i, "c1", group="g") for i in range(3)] + [vm("n1", "c1")]
    model = cloud(hosts, servers, [GroupRule("g", max_impacted_members=1, recovery_time=60)],
                  [InstanceRule("m0", lead_time=45)])
    plan = plan_maintenance(model, ["c1"], PlanSettings(live_migration_seconds=10, host_seconds=100,
                                                        batch_overhead_seconds=20))
    estimate = plan.batches[0].estimate
    assert (estimate.lead_time, estimate.waves, estimate.recovery, estimate.host, estimate.orchestration) == (
        45, [20, 10, 10], 120, 100, 20)
    assert plan.batches[0].as_dict()["estimate"] == {"lead_time": 45, "waves": [20, 10, 10], "recovery": 120, "host": 100,
                                                     "orchestration": 20, "overlapped": False}
    assert plan.estimated_seconds == 45 + 40 + 120 + 100 + 20


def test_waves_run_together_are_estimated_as_the_executor_runs_them():
    """With more than one migration at a time the executor starts a later wave's move as soon as its group's
    earlier members moved (and their recovery_time passed): the waves are not added one after the other."""
    hosts = [host("c1"), host("c2"), host("c3")]
    servers = [vm("m%d" % i, "c1", group="g") for i in range(3)] + [vm("n%d" % i, "c1") for i in range(6)]
    model = cloud(hosts, servers, [GroupRule("g", max_impacted_members=1, recovery_time=5)])
    sequential = PlanSettings(live_migration_seconds=10, host_seconds=100, migrations_per_host=2)
    one_at_a_time = plan_maintenance(model, ["c1"], sequential)
    assert [len(wave) for wave in one_at_a_time.batches[0].waves] == [7, 1, 1]
    # 4 rounds of 2 from c1 in wave 1, one move in each later wave, 2 recoveries of 5 s
    assert one_at_a_time.batches[0].estimate.waves == [40, 10, 10]
    assert one_at_a_time.estimated_seconds == 40 + 10 + 10 + 2 * 5 + 100
    together = plan_maintenance(model, ["c1"], PlanSettings(**dict(vars(sequential), concurrency=8)))
    estimate = together.batches[0].estimate
    # c1 sends its 9 servers 2 at a time: 5 rounds of 10 s, longer than the group's chain (3 x 10 s + 2 x 5 s)
    assert (estimate.overlapped, estimate.waves, estimate.recovery) == (True, [50], 0)
    assert together.estimated_seconds == 50 + 100
    # the group's chain is the longest when the source sends more at once
    wide = plan_maintenance(model, ["c1"], PlanSettings(**dict(vars(sequential), concurrency=8, migrations_per_host=8)))
    assert wide.batches[0].estimate.waves == [3 * 10 + 2 * 5]
    # the overall concurrency bounds it too: 9 moves of 10 s, 2 at a time in all
    narrow = plan_maintenance(model, ["c1"], PlanSettings(**dict(vars(sequential), concurrency=2, migrations_per_host=8)))
    assert narrow.batches[0].estimate.waves == [45]
    assert "moves 50 s (the waves run together)" in estimate_text(together.batches[0].estimate.as_dict())


def test_max_unavailable_per_zone_and_aggregate():
    zone_a = [host("a%d" % i, zone="az-a") for i in range(4)]
    zone_b = [host("b%d" % i, zone="az-b", aggregates=["fast"]) for i in range(4)]
    hosts = zone_a + zone_b
    model = cloud(hosts, [])
    names = sorted(model.hosts)
    assert plan_maintenance(model, names, PlanSettings(max_parallel_hosts=8, max_unavailable_per_zone=1)).serial == [2] * 4
    assert plan_maintenance(model, names, PlanSettings(max_parallel_hosts=8, max_unavailable_per_zone="50%")).serial == [4, 4]
    plan = plan_maintenance(model, names, PlanSettings(max_parallel_hosts=8, max_unavailable_per_aggregate=1))
    assert plan.serial == [5, 1, 1, 1]
    # a zone with a host down already has no room for another
    model.hosts["a0"].up = False
    plan = plan_maintenance(model, names, PlanSettings(max_parallel_hosts=8, max_unavailable_per_zone=1))
    assert sorted(plan.unplanned_hosts) == ["a1", "a2", "a3"]
    assert "availability zone az-a would have more than 1 hosts down" in plan.unplanned_hosts["a1"]


def test_waves_respect_max_impacted_members_and_skipped_members_count():
    hosts = [host("c1"), host("c2")]
    servers = [vm("m%d" % i, "c1", group="g") for i in range(3)] + [vm("n1", "c1")]
    rule = GroupRule("g", max_impacted_members=1, recovery_time=60)
    model = cloud(hosts, servers, [rule])
    plan = plan_maintenance(model, ["c1"], PlanSettings(live_migration_seconds=10, host_seconds=100))
    waves = plan.batches[0].waves
    assert [len(w) for w in waves] == [2, 1, 1]  # n1 rides with the first member
    # 4 live migrations one at a time from c1 (10 s each), two recoveries of 60 s, 100 s of host work
    assert plan.estimated_seconds == 4 * 10 + 2 * 60 + 100
    # a member left on the host (skip) takes the only impact slot: the host cannot go
    model = cloud(hosts, [vm("m0", "c1", group="g", status="SHUTOFF"), vm("m1", "c1", group="g")], [rule])
    plan = plan_maintenance(model, ["c1"], PlanSettings(server_policy={"shutoff": "skip"}))
    assert "max_impacted_members is 1" in plan.unplanned_hosts["c1"]


def test_a_server_in_a_nova_group_and_a_fenix_group_obeys_both():
    """Issue 11's breach: tenant-a's VNFM groups vnf-1 (also in a Nova anti-affinity group) with vnf-2 under
    max_impacted_members 1; the planner kept one group per server, so both moved in one wave."""
    hosts = [host("c1"), host("c2"), host("c3"), host("c4")]
    servers = [vm("aa-1", "c1", group="nova-aa", policy="anti-affinity"),
               vm("aa-2", "c2", group="nova-aa", policy="anti-affinity"),
               vm("vnf-2", "c1"), vm("other", "c1")]
    groups = [GroupRule("nova-aa", max_impacted_members=2), GroupRule("vnf", max_impacted_members=1, recovery_time=30,
                                                                      anti_affinity_group=True)]
    model = cloud(hosts, servers, groups, [InstanceRule("aa-1", group_id="vnf"), InstanceRule("vnf-2", group_id="vnf")])
    model.with_constraints([], [])
    by_id = {server.id: server for server in model.servers}
    assert by_id["aa-1"].groups == ("nova-aa", "vnf") and by_id["vnf-2"].groups == ("vnf",)
    plan = plan_maintenance(model, ["c1"], PlanSettings(live_migration_seconds=10, host_seconds=100))
    waves = [[move.server_id for move in wave] for wave in plan.batches[0].waves]
    assert sorted(sum(waves, [])) == ["aa-1", "other", "vnf-2"]
    assert not any({"aa-1", "vnf-2"} <= set(wave) for wave in waves), waves
    moves = {move.server_id: move for move in plan.batches[0].moves}
    assert moves["aa-1"].fenix_group_id == "vnf" and moves["aa-1"].as_dict()["fenix_group_id"] == "vnf"
    # Both groups' placement rules: not next to the other Nova member (c2), not next to the other Fenix member.
    assert moves["aa-1"].to_host not in ("c2", moves["vnf-2"].to_host)
    # The Fenix group's recovery_time lies between its two waves.
    assert plan.estimated_seconds >= 3 * 10 + 30 + 100
    check_plan(model, ["c1"], PlanSettings(live_migration_seconds=10, host_seconds=100), plan)


def test_migration_type_and_status_decide_the_kind():
    model = cloud([host("a"), host("b")], [vm("live", "a"), vm("cold", "a"), vm("off", "a", status="SHUTOFF"),
                                           vm("paused", "a", status="PAUSED")],
                  instances=[InstanceRule("cold", migration_type="MIGRATE")])
    kinds = {m.server_id: m.kind for m in plan_maintenance(model, ["a"], PlanSettings()).batches[0].moves}
    assert kinds == {"live": LIVE_MIGRATE, "cold": MIGRATE, "off": MIGRATE, "paused": LIVE_MIGRATE}


def test_the_projects_constraints_choose_the_kind_before_the_server_policy():
    servers = [vm("live", "a"), vm("short", "a"), vm("own", "a"), vm("evicted", "a"), vm("free", "a"),
               vm("off", "a", status="SHUTOFF")]
    rules = [InstanceRule("live", migration_type="LIVE_MIGRATE"),
             InstanceRule("short", max_interruption_time=5),
             InstanceRule("own", migration_type="OWN_ACTION"),
             InstanceRule("evicted", migration_type="EVICTION"),
             InstanceRule("off", migration_type="LIVE_MIGRATE")]
    model = cloud([host("a"), host("b")], servers, instances=rules)
    plan = plan_maintenance(model, ["a"], PlanSettings(server_policy={"active": "cold"}))
    moves = {m.server_id: m for m in plan.batches[0].moves}
    assert {sid: m.kind for sid, m in moves.items()} == {
        "live": LIVE_MIGRATE, "short": LIVE_MIGRATE, "own": OWN_ACTION, "evicted": OWN_ACTION, "free": MIGRATE,
        "off": MIGRATE}
    assert moves["own"].to_host is None and moves["evicted"].to_host is None
    assert {m.to_host for sid, m in moves.items() if sid not in ("own", "evicted")} == {"b"}


def test_a_cold_move_its_max_interruption_time_forbids_is_a_named_blocker():
    model = cloud([host("a"), host("b")], [vm("cold", "a")],
                  instances=[InstanceRule("cold", migration_type="MIGRATE", max_interruption_time=5)])
    plan = plan_maintenance(model, ["a"], PlanSettings(cold_migration_seconds=30))
    assert not plan.ok and "a" in plan.unplanned_hosts
    [blocker] = plan.blockers
    assert blocker.server_id == "cold" and blocker.reason == (
        "its migration_type is MIGRATE and its max_interruption_time (5s) is shorter than a cold migration"
        " (30s planned); its project should set migration_type LIVE_MIGRATE or a longer max_interruption_time")
    assert plan_maintenance(model, ["a"], PlanSettings(cold_migration_seconds=4)).batches[0].moves[0].kind == MIGRATE


def test_projects_list_every_instance_on_planned_hosts():
    model = cloud([host("a"), host("b"), host("c")], [vm("s1", "a", project="p1"), vm("s2", "a", project="p2"),
                                                      vm("s3", "b", project="p1")])
    plan = plan_maintenance(model, ["a", "b"], PlanSettings(max_parallel_hosts=2))
    assert {p: sorted(ids) for p, ids in plan.projects.items()} == {"p1": ["s1", "s3"], "p2": ["s2"]}


def test_disabled_and_down_hosts_are_never_targets():
    model = cloud([host("a"), host("off", enabled=False), host("down", up=False), host("ok", vcpus=1)],
                  [vm("s1", "a"), vm("s2", "a")])
    plan = plan_maintenance(model, ["a"], PlanSettings())
    assert plan.scale_in["vcpus"] == 1 and "a" in plan.unplanned_hosts


def test_batch_mode_fails_with_blockers_or_plans_exactly_the_hosts():
    hosts = [host("c1"), host("c2"), host("c3")]
    servers = [vm("aa1", "c1", group="aa", policy="anti-affinity"), vm("aa2", "c2", group="aa", policy="anti-affinity")]
    model = cloud(hosts, servers)
    plan = plan_batch(model, ["c1", "c2"], PlanSettings())
    assert not plan.batches and not plan.ok
    assert any("another member of group aa" in b.reason for b in plan.blockers)
    plan = plan_batch(model, ["c1"], PlanSettings(), pending=["c2", "c3"])
    assert plan.serial == [1] and plan.batches[0].moves[0].to_host == "c3"


@pytest.mark.parametrize("value, total, expected", [(None, 10, None), (2, 10, 2), ("25%", 10, 2), ("10%", 3, 1),
                                                    ("100%", 4, 4)])
def test_resolve_limit(value, total, expected):
    assert resolve_limit(value, total) == expected


def test_unknown_host_is_named():
    with pytest.raises(ValueError, match="hosts: nope not in the cloud model; known hosts: a"):
        plan_maintenance(cloud([host("a")], []), ["nope"], PlanSettings())


def test_max_fill_outside_zero_to_one_is_refused():
    for value in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="max_fill: .*; give a fraction above 0 and at most 1"):
            plan_maintenance(cloud([host("a"), host("b")], []), ["a"], PlanSettings(max_fill=value))


# ---------------------------------------------------------------------------
# Spread targets, the fill limit, migrations per target (issue 13 section 5)
# ---------------------------------------------------------------------------

def test_a_batch_spreads_its_servers_over_the_least_filled_hosts_of_the_best_tier():
    maintained = [host("m%d" % i) for i in range(1, 6)]
    model = cloud([host("src", vcpus=16)] + maintained + [host("out")], [vm("s%d" % i, "src") for i in range(10)])
    plan = plan_maintenance(model, ["src"], PlanSettings(), maintained=[h.name for h in maintained])
    check_plan(model, ["src"], PlanSettings(), plan, [h.name for h in maintained])
    # Each server goes to the least filled maintained host (ties by name): two each, none outside.
    assert Counter(m.to_host for m in plan.batches[0].moves) == {"m1": 2, "m2": 2, "m3": 2, "m4": 2, "m5": 2}


def test_with_no_empty_host_the_first_batch_spreads_over_the_later_hosts():
    """Issue 13's run: 6 computes, 3 servers each, batches of 3; first-fit sent 5 of the first batch's 9
    servers to compute6 and 2 to compute5, so the second batch had 8 servers to move from compute6."""
    names = ["c%d" % i for i in range(1, 7)]
    model = cloud([host(name) for name in names], [vm("%s-%d" % (name, i), name) for name in names for i in range(3)])
    plan_settings = PlanSettings(max_parallel_hosts=3, live_migration_seconds=10, host_seconds=100,
                                 migrations_per_host=2, incoming_per_host=2)
    plan = plan_maintenance(model, names, plan_settings)
    check_plan(model, names, plan_settings, plan)
    assert plan.batches[0].hosts == ["c1", "c2", "c3"] and plan.batches[1].hosts == ["c4", "c5", "c6"]
    assert Counter(m.to_host for m in plan.batches[0].moves) == {"c4": 3, "c5": 3, "c6": 3}
    assert all(m.moves_again for m in plan.batches[0].moves) and plan.double_moves == 9
    assert Counter(m.to_host for m in plan.batches[1].moves) == {"c1": 6, "c2": 6, "c3": 6}
    # 3 moves into each target, 2 at a time (2 rounds of 10 s), against 3 out of each source (also 2 rounds);
    # then 6 into each: 3 rounds.
    assert [b.estimated_seconds for b in plan.batches] == [2 * 10 + 100, 3 * 10 + 100]


def test_ramp_up_starts_with_one_host_and_moves_fewer_servers_twice():
    names = ["c%d" % i for i in range(1, 7)]
    model = cloud([host(name) for name in names], [vm("%s-%d" % (name, i), name) for name in names for i in range(3)])
    plan_settings = PlanSettings(max_parallel_hosts=3, ramp_up=True)
    plan = plan_maintenance(model, names, plan_settings)
    check_plan(model, names, plan_settings, plan)
    full = plan_maintenance(model, names, PlanSettings(max_parallel_hosts=3))
    assert full.serial == [3, 3] and full.double_moves == 9
    assert plan.serial == [1, 2, 3] and plan.double_moves < full.double_moves
    assert [batch.bound for batch in plan.batches] == [
        "ramp_up: batch 1 takes at most 1 of max_parallel_hosts 3",
        "ramp_up: batch 2 takes at most 2 of max_parallel_hosts 3",
        "max_parallel_hosts is 3"]
    # Each later batch moves onto the hosts maintained before it, none twice.
    assert not any(m.moves_again for batch in plan.batches[1:] for m in batch.moves)


def test_ramp_up_leaves_the_width_alone_with_an_empty_host_or_a_host_maintained():
    names = ["c%d" % i for i in range(1, 7)]
    servers = [vm("%s-%d" % (name, i), name) for name in names[1:] for i in range(3)]  # c1 is empty
    with_empty = cloud([host(name) for name in names], servers)
    assert plan_maintenance(with_empty, names, PlanSettings(max_parallel_hosts=3, ramp_up=True)).serial == \
        plan_maintenance(with_empty, names, PlanSettings(max_parallel_hosts=3)).serial
    full = cloud([host(name) for name in names], [vm("%s-%d" % (name, i), name) for name in names for i in range(3)])
    resumed = plan_maintenance(full, names, PlanSettings(max_parallel_hosts=3, ramp_up=True), maintained=["c1"])
    assert resumed.serial == plan_maintenance(full, names, PlanSettings(max_parallel_hosts=3), maintained=["c1"]).serial
    assert resumed.serial[0] > 1


def test_the_first_batch_leaves_the_members_of_a_limited_group_to_later_batches():
    """The makespan bench's cloud: a 3-member anti-affinity group with max_impacted_members 1 on c1..c3.

    In the first batch its members would move to the second batch's hosts and again from there, one after
    the other each time; with c4..c6 first they move once, to hosts maintained by then."""
    names = ["c%d" % i for i in range(1, 7)]
    servers = [vm("%s-%d" % (name, i), name) for name in names for i in range(3)]
    for index, name in enumerate(names[:3]):
        servers[index * 3] = vm("member-%s" % name, name, group="aa", policy="anti-affinity")
    group = GroupRule("aa", max_impacted_members=1, anti_affinity_group=True, recovery_time=4)
    model = cloud([host(name) for name in names], servers, groups=[group])
    plan_settings = PlanSettings(max_parallel_hosts=3)
    plan = plan_maintenance(model, names, plan_settings)
    check_plan(model, names, plan_settings, plan)
    assert [b.hosts for b in plan.batches] == [["c4", "c5", "c6"], ["c1", "c2", "c3"]]
    members = [m for b in plan.batches for m in b.moves if m.server_id.startswith("member-")]
    assert len(members) == 3 and not any(m.moves_again for m in members)
    assert all(m.to_host in ("c4", "c5", "c6") for m in members)
    # Without the group's limit the hosts keep their order (fewest servers, then name).
    model = cloud([host(name) for name in names], servers)
    assert [b.hosts for b in plan_maintenance(model, names, plan_settings).batches][0] == ["c1", "c2", "c3"]
    # Nor is the order changed once a host is maintained: the members can move there, once.
    model = cloud([host(name) for name in names], servers, groups=[group])
    plan = plan_maintenance(model, names[:5], plan_settings, maintained=["c6"])
    assert plan.batches[0].hosts[0] == "c1"


def test_max_fill_is_kept_while_a_host_has_the_room_before_the_tier_preference():
    # m, maintained, is at 6 of 8 vCPU: 2 more would pass 85 %; o, outside, is empty.
    model = cloud([host("src"), host("m"), host("o")],
                  [vm("big", "src", vcpus=2)] + [vm("m%d" % i, "m") for i in range(6)])
    plan = plan_maintenance(model, ["src"], PlanSettings(), maintained=["m"])
    check_plan(model, ["src"], PlanSettings(), plan, ["m"])
    assert plan.batches[0].moves[0].to_host == "o" and plan.over_fill is None
    # Without a limit the maintained host is preferred and filled to the last vCPU.
    plan = plan_maintenance(model, ["src"], PlanSettings(max_fill=1.0), maintained=["m"])
    assert plan.batches[0].moves[0].to_host == "m" and plan.over_fill is None


def test_max_fill_is_passed_only_when_no_host_has_the_room_and_the_plan_says_so():
    # a at 5 of 8 vCPU, b at 6: neither takes 2 more under 85 % (6.8 vCPU).
    model = cloud([host("src"), host("a"), host("b")],
                  [vm("x1", "src", vcpus=2, ram=512, disk=5), vm("x2", "src", vcpus=2, ram=512, disk=5)]
                  + [vm("a%d" % i, "a") for i in range(5)] + [vm("b%d" % i, "b") for i in range(6)])
    plan = plan_maintenance(model, ["src"], PlanSettings())
    check_plan(model, ["src"], PlanSettings(), plan)
    # Up to the capacity, least filled first: x1 to a (5 of 8), then a has 7 and b 6: x2 to b.
    assert {m.server_id: m.to_host for m in plan.batches[0].moves} == {"x1": "a", "x2": "b"}
    assert plan.ok and plan.over_fill == {"max_fill": 0.85, "servers": 2, "vcpus": 4, "memory_mb": 1024,
                                          "disk_gb": 10, "hosts": ["a", "b"]}
    assert plan.as_dict()["over_fill"] == plan.over_fill
    # No room even up to the capacity: a blocker and scale_in, as before.
    model.servers.append(vm("x3", "src", vcpus=2))
    model.hosts["src"].used["VCPU"] += 2
    plan = plan_maintenance(model, ["src"], PlanSettings())
    assert not plan.ok and plan.scale_in["vcpus"] == 2 and "capacity is short" in plan.blockers[0].reason


def test_the_estimate_counts_the_migrations_into_each_target():
    sources = ["s%d" % i for i in range(1, 5)]
    servers = [vm("%s-%d" % (name, i), name, status="SHUTOFF" if i == 1 else "ACTIVE")
               for name in sources for i in range(2)]
    model = cloud([host(name) for name in sources] + [host("t", vcpus=100)], servers)
    settings_of = dict(max_parallel_hosts=4, migrations_per_host=2, live_migration_seconds=10,
                       cold_migration_seconds=30, host_seconds=100)
    plan = plan_maintenance(model, sources, PlanSettings(incoming_per_host=2, **settings_of))
    check_plan(model, sources, PlanSettings(incoming_per_host=2, **settings_of), plan)
    assert plan.serial == [4] and {m.to_host for m in plan.batches[0].moves} == {"t"}
    # Each source sends one live and one cold migration at once: 10 + 30 s; t receives 4 of each, 2 at a
    # time: 2 x 10 + 2 x 30 s.
    assert plan.estimated_seconds == 2 * 10 + 2 * 30 + 100
    plan = plan_maintenance(model, sources, PlanSettings(incoming_per_host=8, **settings_of))
    assert plan.estimated_seconds == 10 + 30 + 100


def test_a_candidate_filter_narrows_each_servers_targets():
    model = cloud([host("a"), host("b"), host("c"), host("d", vcpus=1)], [vm("x1", "a"), vm("x2", "a")])
    plan = plan_maintenance(model, ["a"], PlanSettings(), candidates=lambda s: {"c"} if s.id == "x1" else None)
    # x1 may only go to c; x2 to the least filled of the others (b; c has x1 by then).
    assert {m.server_id: m.to_host for m in plan.batches[0].moves} == {"x1": "c", "x2": "b"}
    plan = plan_maintenance(model, ["a"], PlanSettings(), candidates=lambda s: {"d"})
    # d takes one of the two, b and c may not: a blocker, and no capacity shortage to scale in for
    assert not plan.ok and plan.scale_in is None
    [blocker] = plan.blockers
    assert blocker.reason == ("no enabled host outside its batch that may take it (the hosts its flavor and image"
                              " allow) has room for it")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_cloud(), st.data())
def test_no_target_is_outside_the_candidates_of_its_server(case, data):
    model, hosts, maintained, plan_settings = case
    allowed = {s.id: set(data.draw(st.lists(st.sampled_from(sorted(model.hosts)), unique=True)))
               for s in model.servers if data.draw(st.booleans())}
    plan = plan_maintenance(model, hosts, plan_settings, maintained=maintained, candidates=lambda s: allowed.get(s.id))
    for batch in plan.batches:
        for m in batch.moves:
            assert m.to_host is None or m.server_id not in allowed or m.to_host in allowed[m.server_id]


@settings(max_examples=100, deadline=None)
@given(random_cloud())
def test_servers_are_tried_in_move_order(case):
    """The planner's order (limited groups first, then the largest flavors, equal ones as the model lists
    them) is move_order's."""
    model, hosts, maintained, plan_settings = case
    state = planner._State(model, plan_settings, [], maintained, hosts, planner.read_servers(model))
    for name in model.hosts:
        listed = [s for s in model.servers if s.host == name]
        assert state.in_move_order(name) == sorted(listed, key=lambda s: planner.move_order(s, state.limits))


# ---------------------------------------------------------------------------
# The planner's shortcuts answer as the plain computation does
# ---------------------------------------------------------------------------

@st.composite
def impact_attempts(draw):
    """Group rules and hosts' attempts whose skipped and moved servers are members of those groups."""
    names = ["g0", "g1", "g2", "g3"]
    rules = {name: GroupRule(name, max_impacted_members=draw(st.one_of(st.none(), st.integers(0, 3))))
             for name in names if draw(st.booleans())}
    members = st.lists(st.one_of(st.none(), st.sampled_from(names)), max_size=4)
    attempts = []
    for index in range(draw(st.integers(1, 8))):
        attempt = planner._Attempt(host="h%d" % index)
        attempt.skipped = [vm("k%d-%d" % (index, n), "h%d" % index, group=group)
                           for n, group in enumerate(draw(members))]
        attempt.moves = [Move("m%d-%d" % (index, n), "p1", "m", "h%d" % index, "t", LIVE_MIGRATE, group)
                         for n, group in enumerate(draw(members))]
        attempt.grouped = [move for move in attempt.moves if move.groups]  # the moving members, as the planner keeps them
        attempts.append(attempt)
    return rules, attempts


@settings(max_examples=300, deadline=None)
@given(impact_attempts())
def test_batch_impact_admits_as_the_whole_batch_check_would(case):
    """Hosts joining one by one get the refusal that checking the whole batch again would give."""
    rules, attempts = case
    impact = planner._BatchImpact(rules)
    admitted = []
    for attempt in attempts:
        expected = planner._impact_refusal(admitted + [attempt], rules)
        assert impact.admit(attempt) == expected
        if expected is None:
            admitted.append(attempt)
    assert planner._impact_refusal(admitted, rules) is None


def test_batch_impact_names_the_group_first_left_in_the_batch():
    rules = {"early": GroupRule("early", max_impacted_members=1), "late": GroupRule("late", max_impacted_members=1)}
    first, second = planner._Attempt(host="h1"), planner._Attempt(host="h2")
    first.skipped = [vm("k1", "h1", group="early")]
    second.skipped = [vm("k2", "h2", group="late"), vm("k3", "h2", group="late"), vm("k4", "h2", group="early")]
    impact = planner._BatchImpact(rules)
    assert impact.admit(first) is None
    assert impact.admit(second) == planner._impact_refusal([first, second], rules)
    assert impact.admit(second).startswith("group early would have 2 members staying")


def _gc_seen_by_planner(monkeypatch, plan):
    seen = []
    real_host_order = planner.host_order

    def host_order(*args):
        seen.append(gc.isenabled())
        return real_host_order(*args)

    monkeypatch.setattr(planner, "host_order", host_order)
    plan()
    return seen


def test_planning_pauses_the_cyclic_gc_and_restores_it(monkeypatch):
    model = cloud([host("a"), host("b"), host("c")], [vm("s1", "a"), vm("s2", "b")])
    was_enabled = gc.isenabled()
    try:
        gc.enable()
        assert _gc_seen_by_planner(monkeypatch, lambda: plan_maintenance(model, ["a", "b"], PlanSettings())) == [False]
        assert gc.isenabled()
        assert _gc_seen_by_planner(monkeypatch, lambda: plan_batch(model, ["a"], PlanSettings(), pending=["b"])) \
            == [False]
        assert gc.isenabled()
        with pytest.raises(ValueError):
            plan_maintenance(model, ["nope"], PlanSettings())
        assert gc.isenabled()
        gc.disable()  # a caller that paused it keeps it paused
        plan_maintenance(model, ["a", "b"], PlanSettings())
        assert not gc.isenabled()
    finally:
        if was_enabled:
            gc.enable()
        else:
            gc.disable()
