"""maintenance_api's launcher option in check mode: what the service would be started with, and bad launchers."""

import os

from ansible_collections.fenix.maintenance.plugins.modules.maintenance_api import MaintenanceApiModule
from fakes import FakeCloud
from module_runner import run_module

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".work", "collections"))


def args(tmp_path, **launcher):
    values = {"collections_path": COLLECTIONS, "run_dir": str(tmp_path / "run"), "auth_mode": "none",
              "journal": str(tmp_path / "journal.sqlite"), "bind": "127.0.0.1:12399"}
    if launcher:
        values["launcher"] = launcher
    return values


def test_check_mode_accepts_a_launcher_and_starts_nothing(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all: {}\n")
    result = run_module(MaintenanceApiModule, args(tmp_path, type="runner", inventory=str(inventory)), FakeCloud(),
                        check_mode=True)
    assert not result["failed"], result["msg"]
    assert result["changed"] and result["pid"] is None and not os.path.exists(tmp_path / "run")


def test_a_launcher_that_cannot_work_is_refused_before_anything_starts(tmp_path):
    missing = run_module(MaintenanceApiModule, args(tmp_path, inventory=str(tmp_path / "nope.yml")), FakeCloud(),
                         check_mode=True)
    assert missing["failed"] and missing["msg"].startswith("launcher.inventory (FENIX_API_RUN_INVENTORY): ")
    controller = run_module(MaintenanceApiModule, args(tmp_path, type="controller", controller_url="https://awx"),
                            FakeCloud(), check_mode=True)
    assert controller["failed"] and "launcher.controller_job_template" in controller["msg"]
    assert "launcher.controller_token" in controller["msg"] and not os.path.exists(tmp_path / "run")
    wrong = run_module(MaintenanceApiModule, args(tmp_path, type="jenkins"), FakeCloud(), check_mode=True)
    assert wrong["failed"] and "launcher" in wrong["msg"] and "jenkins" in wrong["msg"]


def test_the_controller_token_is_kept_out_of_the_result(tmp_path):
    result = run_module(MaintenanceApiModule, args(tmp_path, type="controller", controller_url="https://awx",
                                                   controller_job_template="7", controller_token="s3cr3t-t0ken"),
                        FakeCloud(), check_mode=True)
    assert not result["failed"], result["msg"]
    assert "s3cr3t-t0ken" not in str(result)


def test_a_policy_file_is_checked_before_anything_starts(tmp_path):
    keystone = dict(args(tmp_path), auth_mode="keystone", cloud="fenix-api")
    missing = run_module(MaintenanceApiModule, dict(keystone, policy_file=str(tmp_path / "policy.yaml")), FakeCloud(),
                         check_mode=True)
    assert missing["failed"] and missing["msg"] == (
        "policy_file: %s is not a file; give the path of a YAML policy file (see docs/api.md, The policy)"
        % (tmp_path / "policy.yaml"))
    (tmp_path / "policy.yaml").write_text('"maintenance:list_sessions": "role:reader or rule:maintenance:admin"\n')
    lab = run_module(MaintenanceApiModule, dict(args(tmp_path), policy_file=str(tmp_path / "policy.yaml")), FakeCloud(),
                     check_mode=True)
    assert lab["failed"] and lab["msg"].startswith("policy_file: auth_mode none checks nobody")
    given = run_module(MaintenanceApiModule, dict(keystone, policy_file=str(tmp_path / "policy.yaml")), FakeCloud(),
                       check_mode=True)
    assert not given["failed"], given["msg"]
    assert given["changed"] and given["auth_mode"] == "keystone" and not os.path.exists(tmp_path / "run")


def test_the_runs_token_cache_reaches_the_service_that_checks_tokens(tmp_path, monkeypatch):
    from ansible_collections.fenix.maintenance.plugins.modules import maintenance_api
    started = []
    monkeypatch.setattr(maintenance_api, "running", lambda settings: None)
    monkeypatch.setattr(maintenance_api, "start", lambda settings, timeout: started.append(settings) or {"pid": 4242})
    tokens = str(tmp_path / "tokens")
    keystone = dict(args(tmp_path), auth_mode="keystone", cloud="fenix-api", token_cache=tokens)
    result = run_module(MaintenanceApiModule, keystone, FakeCloud())
    assert not result["failed"], result["msg"]
    assert started[-1].token_cache == tokens and started[-1].environment()["FENIX_API_TOKEN_CACHE"] == tokens
    # A lab service has no cloud connection to give it to.
    result = run_module(MaintenanceApiModule, dict(args(tmp_path), token_cache=tokens), FakeCloud())
    assert not result["failed"], result["msg"]
    assert started[-1].token_cache is None
