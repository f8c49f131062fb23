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
