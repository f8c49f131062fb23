"""The plan as the dry run explains it (planning/explain.py) and as the plan page shows it (report/render.py)."""

from ansible_collections.fenix.maintenance.plugins.module_utils.planning.explain import describe, estimate_text, explain
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.plan import Batch, Estimate, Move, Plan
from ansible_collections.fenix.maintenance.plugins.module_utils.report.render import render_plan
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import LIVE_MIGRATE, MIGRATE, OWN_ACTION


def plan_view():
    moves = [Move("s1", "p1", "web-1", "c1", "c3", LIVE_MIGRATE), Move("s2", "p2", "s2", "c1", "c2", MIGRATE),
             Move("s3", "p1", "db-1", "c1", None, OWN_ACTION), Move("s5", "p2", "pinned", "c1", None, LIVE_MIGRATE)]
    batch = Batch(hosts=["c1"], waves=[moves[:2], moves[2:3], moves[3:]], estimated_seconds=175,
                  estimate=Estimate(lead_time=30, waves=[20, 10], recovery=15, host=100),
                  bound="c2 cannot join it: availability zone az1 would have more than 1 hosts down (max_unavailable)",
                  skipped=[{"server_id": "s4", "name": "old-vm", "project_id": "p2", "host": "c1", "status": "SHUTOFF",
                            "reason": "server_policy.shutoff is skip"}])
    plan = Plan(batches=[batch], projects={"p1": ["s1", "s3"], "p2": ["s2", "s4"]}, estimated_seconds=175,
                unplanned_hosts={"c9": "down"}, scale_in={"vcpus": 4, "memory_mb": 512, "disk_gb": 0, "servers": 2,
                                                          "hosts": ["c9"]},
                scheduler_moves=[{"server_id": "s5", "name": "pinned", "project_id": "p2", "host": "c1",
                                  "reason": "its flavor's extra spec hw:cpu_policy=dedicated is not one the planner"
                                            " models"}])
    return plan.as_dict()


def test_the_estimate_is_said_by_part():
    assert estimate_text({"lead_time": 30, "waves": [20, 10], "recovery": 15, "host": 100}) == \
        "notice 30 s + waves 20 s + 10 s + recovery 15 s + host work 100 s"
    assert estimate_text({"lead_time": 0, "waves": [12.5], "recovery": 0, "host": 300}) == "wave 12.5 s + host work 300 s"
    assert estimate_text({"lead_time": 0, "waves": [], "recovery": 0, "host": 300}) == "host work 300 s"
    assert estimate_text({"lead_time": 0, "waves": [4], "recovery": 0, "host": 10, "orchestration": 20}) == (
        "wave 4 s + host work 10 s + orchestration 20 s")


def test_the_lines_say_each_batch_its_bound_estimate_moves_and_what_stays():
    lines = explain(plan_view(), {"p1": "tenant-a"})
    assert lines == [
        "batches: 1 (hosts per batch: 1)",
        "moves: 4 (0 to a host of a later batch, moved again then)",
        "estimate: 175 s",
        "projects to ask: tenant-a (p1), p2",
        "cannot be planned: c9: down",
        "no target named: pinned (s5): its flavor's extra spec hw:cpu_policy=dedicated is not one the planner models;"
        " the scheduler chooses",
        "capacity is short (SCALE_IN): 4 vCPU, 512 MB RAM, 0 GB disk must be freed on c9",
        "batch 1: c1 (not wider: c2 cannot join it: availability zone az1 would have more than 1 hosts down"
        " (max_unavailable))",
        "  estimate 175 s: notice 30 s + waves 20 s + 10 s + recovery 15 s + host work 100 s",
        "  wave 1: web-1 (s1) of tenant-a (p1), c1 -> c3, live",
        "  wave 1: s2 of p2, c1 -> c2, cold",
        "  wave 2: db-1 (s3) of tenant-a (p1), c1 -> -, its project's own action",
        "  wave 3: pinned (s5) of p2, c1 -> (the scheduler chooses), live",
        "  stays: old-vm (s4) of p2 on c1: server_policy.shutoff is skip",
    ]


def test_the_overview_says_the_sessions_own_start_and_end_apart():
    view = dict(plan_view(), estimated_seconds=184, session_overhead_seconds=9)
    assert "estimate: 184 s (the batches 175 s + the session's start and end 9 s)" in explain(view, {})


def test_a_long_batch_shows_its_first_moves_and_counts_the_rest():
    lines = explain(plan_view(), {}, moves_shown=1)
    assert "  wave 1: web-1 (s1) of p1, c1 -> c3, live" in lines
    assert "  ... and 3 more moves (the plan page lists them all)" in lines
    assert not any(line.startswith("  wave 2") for line in lines)


def test_the_page_escapes_what_the_cloud_names():
    view = plan_view()
    view["batches"][0]["waves"][0][0]["name"] = "<b>web|1</b>"
    description = describe(view, {"p1": "tenant-a"})
    html = render_plan(description, "Maintenance plan s-1", html=True)
    assert "<td>&lt;b&gt;web|1&lt;/b&gt; (s1)</td>" in html and "<b>web" not in html
    markdown = render_plan(description, "Maintenance plan s-1", html=False)
    assert "| 1 | &lt;b&gt;web\\|1&lt;/b&gt; (s1) | tenant-a (p1) | c1 | c3 | live |" in markdown
    assert "Not wider: c2 cannot join it" in markdown and "Stays: old-vm (s4) of p2 on c1" in markdown
