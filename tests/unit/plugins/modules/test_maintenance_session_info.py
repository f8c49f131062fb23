"""maintenance_session_info writing the run report: check mode, second run, bad input."""

import os

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.modules.maintenance_session_info import MaintenanceSessionInfoModule
from fakes import FakeCloud
from module_runner import run_module


def test_module_writes_the_report_on_request(tmp_path):
    journal = Journal(str(tmp_path / "journal.sqlite"))
    journal.create_session(["compute1", "compute2"], session_id="s1")
    journal.set_host("s1", "compute2", state="DISABLED", disabled_by_session=True)
    args = {"journal": journal.path, "session_id": "s1", "report": True, "report_formats": ["html", "svg"]}
    planned = run_module(MaintenanceSessionInfoModule, args, FakeCloud(), check_mode=True)
    assert planned["changed"] and not os.path.exists(planned["report"]["html"])
    assert set(planned["report"]) == {"html", "svg"}
    written = run_module(MaintenanceSessionInfoModule, args, FakeCloud())
    assert written["changed"] and written["report"] == planned["report"]
    assert 'data-host="compute2"' in open(written["report"]["html"]).read()
    again = run_module(MaintenanceSessionInfoModule, args, FakeCloud())
    assert again["changed"] is False
    missing = run_module(MaintenanceSessionInfoModule, dict(args, session_id=None), FakeCloud())
    assert missing["failed"] and missing["msg"].startswith("session_id:")
    unknown = run_module(MaintenanceSessionInfoModule, dict(args, session_id="nope"), FakeCloud())
    assert unknown["failed"] and "nope" in unknown["msg"]


def test_postgresql_journal_without_report_dir_names_the_option():
    args = {"journal": "postgresql://fenix@127.0.0.1:1/none", "session_id": "s1", "report": True}
    result = run_module(MaintenanceSessionInfoModule, args, FakeCloud())
    assert result["failed"] and result["msg"].startswith("report_dir: missing")
