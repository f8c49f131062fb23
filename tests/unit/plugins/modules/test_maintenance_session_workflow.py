"""maintenance_session's workflow option: default or vnf, anything else refused before the journal changes."""

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.modules.maintenance_session import MaintenanceSessionModule
from fakes import FakeCloud
from module_runner import run_module


def test_an_unknown_workflow_fails_before_the_journal_changes(tmp_path):
    path = str(tmp_path / "j.sqlite")
    result = run_module(MaintenanceSessionModule, dict(journal=path, session_id="x", workflow="k8s"), FakeCloud())
    assert result["failed"]
    assert result["msg"] == "value of workflow must be one of: default, vnf, got: k8s"
    assert not (tmp_path / "j.sqlite").exists()
    created = run_module(MaintenanceSessionModule, dict(journal=path, session_id="x", workflow="vnf"), FakeCloud())
    assert not created["failed"], created["msg"]
    assert created["session"]["workflow"] == "vnf" and Journal(path).session("x").workflow == "vnf"
