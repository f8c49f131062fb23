"""maintenance_session against the real cloud: delete gives back the hosts the session disabled."""

from __future__ import annotations

import pytest

from conftest import compute_service

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

pytestmark = pytest.mark.usefixtures("enabled_hosts")

M = "fenix.maintenance."


def test_session_lifecycle_restores_hosts(admin, playbook, tmp_path):
    journal = str(tmp_path / "journal.sqlite")
    session = {"journal": journal, "session_id": "it-1", "hosts": ["compute3", "compute4"],
               "maintenance_at": "2026-12-01 02:00:00", "metadata": {"release": "test"}}
    created, resumed, disabled, read = playbook.run(
        {M + "maintenance_session": session},
        {M + "maintenance_session": session},
        {M + "compute_service": {"host": "compute4", "reason": "session it-1"}},
        {M + "maintenance_session_info": {"journal": journal, "session_id": "it-1", "events": True}},
    )
    assert created["changed"] and created["created"]
    assert resumed["changed"] is False and resumed["resumed"] is True
    assert disabled["changed"] is True
    assert [h["host"] for h in read["sessions"][0]["hosts"]] == ["compute3", "compute4"]
    assert read["sessions"][0]["events"][0]["kind"] == "session.created"

    # What the workflow does when it disables a host: record it first.
    Journal(journal).set_host("it-1", "compute4", state="DISABLED", disabled_by_session=True)
    admin.compute.disable_service(compute_service(admin, "compute3"), disabled_reason="RMA 77")
    Journal(journal).set_host("it-1", "compute3", state="DISABLED", disabled_by_session=True)

    delete = {M + "maintenance_session": {"journal": journal, "session_id": "it-1", "state": "absent"}}
    check, = playbook.run(delete, check=True)
    assert check["changed"] is True and check["restored_hosts"] == ["compute4"]
    assert compute_service(admin, "compute4").status == "disabled", "check mode changes nothing"

    deleted, again, gone = playbook.run(delete, delete, {M + "maintenance_session_info": {"journal": journal}})
    assert deleted["changed"] is True
    assert deleted["restored_hosts"] == ["compute4"] and deleted["left_disabled"] == ["compute3"]
    assert again["changed"] is False
    assert gone["sessions"] == []
    assert compute_service(admin, "compute4").status == "enabled"
    service = compute_service(admin, "compute3")
    assert (service.status, service.disabled_reason) == ("disabled", "RMA 77"), "someone else's disable stays"


def test_a_host_disabled_by_someone_else_is_skipped_for_every_host_and_refused_when_named(admin, playbook, tmp_path):
    journal = str(tmp_path / "journal.sqlite")
    admin.compute.disable_service(compute_service(admin, "compute3"), disabled_reason="RMA 78")
    plan, named, every, disabled, refused = playbook.run(
        {M + "maintenance_plan": {"journal": journal, "max_unavailable": {}}},
        {M + "maintenance_session": {"journal": journal, "session_id": "it-2", "hosts": ["compute2", "compute3"]}},
        {M + "maintenance_session": {"journal": journal, "session_id": "it-3"}},
        {M + "compute_service": {"journal": journal, "session_id": "it-3", "host": "compute4"}},
        {M + "compute_service": {"host": "compute4", "state": "enabled"}},
    )
    # Every host: compute3 is left out of the plan and listed with its reason.
    assert not plan.get("failed"), plan.get("msg")
    assert "compute3" not in plan["hosts"] and "compute3" not in sum((b["hosts"] for b in plan["plan"]["batches"]), [])
    assert [(s["host"], s["disabled_reason"]) for s in plan["skipped_hosts"]] == [("compute3", "RMA 78")]
    # Named: an error naming the host, who disabled it and the fix; no session was made.
    assert named["failed"] and named["msg"].startswith(
        "hosts: compute3 is disabled by someone else (disabled_reason: 'RMA 78')")
    assert "include_disabled: true" in named["msg"]
    assert [s.session_id for s in Journal(journal).sessions()] == ["it-3"]
    assert [h.host for h in Journal(journal).hosts("it-3")] == ["compute1", "compute2", "compute4"]
    # The session's disable names it, and only it may enable the host.
    assert disabled["changed"] and refused["failed"] and "disabled by session it-3" in refused["msg"]
    # Nova, asked on its own: compute3 as its owner left it, compute2 untouched, compute4 the session's.
    services = {s.host: s for s in admin.compute.services(binary="nova-compute")}
    assert (services["compute3"].status, services["compute3"].disabled_reason) == ("disabled", "RMA 78")
    assert services["compute2"].status == "enabled"
    assert (services["compute4"].status, services["compute4"].disabled_reason) == (
        "disabled", "fenix.maintenance: session it-3: maintenance")
