"""The API's policy (oslo.policy: default rules, the operator's policy file) and auth_token's configuration."""

from __future__ import annotations

import os

import pytest
from falcon import testing

from ansible_collections.fenix.maintenance.plugins.module_utils.api.app import ServiceConfig, build, create_app
from ansible_collections.fenix.maintenance.plugins.module_utils.api.auth import (
    NOBODY_CHECKED,
    Caller,
    caller_of,
    middleware_options,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import LaunchSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.api.policy import (
    ADMIN_RULE,
    BASE_RULES,
    PROJECT_RULE,
    Policy,
    PolicyFileError,
    operation_rules,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.api.schema import ROUTES

from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import API_START_FAILURE_MARK
from fakes import FakeCloud
from keystone_server import NOWHERE, SERVICE_USER, issued, service_clouds_yaml

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
TOKENS = {
    "admin-token": ("admin-project", ["admin", "member"]),
    "a-token": ("pa", ["member"]),
    "reader-token": ("pr", ["reader"]),
    "support-token": ("ps", ["support"]),
}


def member_of(project_id, *roles):
    return Caller(user_id="u", project_id=project_id, roles=frozenset(roles or ("member",)), policy=Policy())


def test_every_endpoint_but_the_public_ones_has_a_rule_that_defaults_to_its_kind():
    rules = operation_rules()
    expected = {"maintenance:" + operation: "maintenance:" + who
                for _method, _path, operation, who, _request, _response in ROUTES if who != "public"}
    assert {name: base for name, (base, _operations) in rules.items()} == expected
    assert rules["maintenance:update_session"][1] == [("PUT", "/v1/maintenance/{session_id}"),
                                                      ("POST", "/v1/maintenance/{session_id}")]
    assert dict((name, check) for name, check, _description in BASE_RULES) == {
        ADMIN_RULE: "role:admin", PROJECT_RULE: "rule:maintenance:admin or project_id:%(project_id)s"}


def test_default_rules():
    admin, member, unscoped = member_of("admin-project", "admin"), member_of("pa"), member_of(None)
    assert admin.is_admin and admin.may_act_for("pa") and admin.may_act_for(None)
    assert admin.may("maintenance:create_session") and admin.may("maintenance:reply_project", "pb")
    assert not member.is_admin and not member.may("maintenance:list_sessions")
    assert member.may_act_for("pa") and member.may("maintenance:reply_project", "pa")
    assert not member.may_act_for("pb") and not member.may("maintenance:reply_project", "pb")
    # Nobody acts for "no project", and a token without a project acts for none.
    assert not member.may_act_for(None) and not unscoped.may_act_for(None)
    assert not unscoped.may("maintenance:get_project", "pa")
    # Role names are compared as Keystone does, whatever their case.
    assert member_of("px", "Admin").is_admin
    # Lab mode: nobody is checked.
    assert NOBODY_CHECKED.is_admin and NOBODY_CHECKED.may_act_for("pb") and NOBODY_CHECKED.may("maintenance:x")


@pytest.fixture
def service_cloud(tmp_path, monkeypatch):
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", service_clouds_yaml(tmp_path))


def api_with(tmp_path, policy_text=None):
    policy_file = None
    if policy_text is not None:
        policy_file = str(tmp_path / "policy.yaml")
        with open(policy_file, "w") as handle:
            handle.write(policy_text)
    app, _service = build(ServiceConfig(journal=str(tmp_path / "journal.sqlite"), auth="keystone", cloud="test",
                                        policy_file=policy_file, launch=LaunchSettings(kind="none")),
                          connect=FakeCloud)
    return testing.TestClient(app)


def call(api, method, path, token, body=None):
    return api.simulate_request(method, path, headers={"X-Auth-Token": token}, json=body)


def test_a_policy_file_opens_one_endpoint_to_a_reader(tmp_path, service_cloud):
    api = api_with(tmp_path, '"maintenance:list_sessions": "role:reader or rule:maintenance:admin"\n'
                             '"maintenance:get_report_json": "role:reader or rule:maintenance:admin"\n')
    with issued(TOKENS):
        session_id = call(api, "POST", "/v1/maintenance", "admin-token", {"hosts": ["compute1"]}).json["session_id"]
        assert call(api, "GET", "/v1/maintenance", "reader-token").json == {"session_id": [session_id]}
        assert call(api, "GET", "/v1/maintenance/%s/report.json" % session_id, "reader-token").status_code == 200
        refused = call(api, "GET", "/v1/maintenance/%s" % session_id, "reader-token")
        assert refused.status_code == 403 and refused.json["error"]["message"] == (
            "this endpoint needs a token with the admin role (policy rule maintenance:get_session)")
        assert call(api, "POST", "/v1/maintenance", "reader-token", {"hosts": []}).status_code == 403
        # The rules the file does not name keep their defaults.
        assert call(api, "GET", "/v1/maintenance", "admin-token").status_code == 200
        assert call(api, "GET", "/v1/maintenance", "a-token").status_code == 403


def test_a_policy_file_closes_the_constraints_to_projects(tmp_path, service_cloud):
    api = api_with(tmp_path, '"maintenance:set_instance_group": "rule:maintenance:admin"\n')
    with issued(TOKENS):
        refused = call(api, "PUT", "/v1/instance_group/g1", "a-token", {"max_impacted_members": 1})
        assert refused.status_code == 403 and refused.json["error"]["message"] == (
            "your token is scoped to project pa, which may not call this endpoint"
            " (policy rule maintenance:set_instance_group)")
        assert call(api, "PUT", "/v1/instance_group/g1", "admin-token", {"project_id": "pa"}).status_code == 200
        # Reading stays the project's.
        assert call(api, "GET", "/v1/instance_group/g1", "a-token").json["project_id"] == "pa"


def test_the_project_rule_decides_who_acts_for_a_project_in_the_path_and_in_the_records(tmp_path, service_cloud):
    api = api_with(tmp_path, '"maintenance:project": "rule:maintenance:admin or project_id:%(project_id)s'
                             ' or role:support"\n')
    with issued(TOKENS):
        session_id = call(api, "POST", "/v1/maintenance", "admin-token", {"hosts": ["compute1"]}).json["session_id"]
        path = "/v1/maintenance/%s/pa" % session_id
        refused = call(api, "GET", path, "reader-token")
        assert refused.status_code == 403 and refused.json["error"]["message"] == (
            "project pa: your token is scoped to project pr (policy rule maintenance:get_project)")
        # The path's project (404: pa was not asked in this session, but the rule let the support token in).
        assert call(api, "GET", path, "support-token").status_code == 404
        # The project a constraint belongs to, and the owner of a stored one, are checked by the same rule.
        assert call(api, "PUT", "/v1/instance_group/g1", "a-token", {"recovery_time": 5}).status_code == 200
        assert call(api, "GET", "/v1/instance_group/g1", "support-token").json["recovery_time"] == 5
        written = call(api, "PUT", "/v1/instance_group/g1", "support-token", {"project_id": "pa", "recovery_time": 6})
        assert written.status_code == 200 and written.json["recovery_time"] == 6
        assert call(api, "GET", "/v1/instance_group/g1", "reader-token").status_code == 403


@pytest.mark.parametrize("text, message", [
    ('"maintenance:admin": "role:admin or"\n',
     "the check string of maintenance:admin is not one oslo.policy can parse"),
    ('"maintenance:list_sessions": "rule:maintenance:auditor"\n',
     "has rules that refer to rules nobody defines, or to themselves"),
    ('"maintenance:admin": "rule:maintenance:project"\n', "has rules that refer to rules nobody defines, or to themselves"),
    ("- maintenance:admin\n", "is not a mapping of rule names to check strings"),
    ('"maintenance:admin": [\n', "cannot be read as a policy file"),
])
def test_a_policy_file_that_cannot_work_stops_the_service(tmp_path, service_cloud, text, message):
    with pytest.raises(PolicyFileError, match="FENIX_API_POLICY_FILE: .*policy.yaml") as refused:
        api_with(tmp_path, text)
    assert message in str(refused.value)


def test_a_missing_policy_file_stops_the_service(tmp_path, service_cloud):
    with pytest.raises(PolicyFileError, match="FENIX_API_POLICY_FILE: %s is not a file; give the path of a YAML"
                                              " policy file, or unset it" % (tmp_path / "nowhere.yaml")):
        build(ServiceConfig(journal=str(tmp_path / "j.sqlite"), auth="keystone", cloud="test",
                            policy_file=str(tmp_path / "nowhere.yaml"), launch=LaunchSettings(kind="none")))


def test_the_service_says_why_it_cannot_start_on_one_marked_line(tmp_path, service_cloud, capsys):
    with pytest.raises(PolicyFileError):
        create_app(ServiceConfig(journal=str(tmp_path / "j.sqlite"), auth="keystone", cloud="test",
                                 policy_file=str(tmp_path / "nowhere.yaml"), launch=LaunchSettings(kind="none")))
    assert capsys.readouterr().err == "%sFENIX_API_POLICY_FILE: %s is not a file; give the path of a YAML policy file," \
        " or unset it to use the default rules\n" % (API_START_FAILURE_MARK, tmp_path / "nowhere.yaml")


def test_an_empty_policy_file_keeps_the_defaults(tmp_path, service_cloud):
    api = api_with(tmp_path, "")
    with issued(TOKENS):
        assert call(api, "GET", "/v1/maintenance", "admin-token").status_code == 200
        assert call(api, "GET", "/v1/maintenance", "a-token").status_code == 403


def test_the_policy_file_setting():
    config = ServiceConfig.from_environment({"FENIX_API_CLOUD": "test", "FENIX_API_POLICY_FILE": "/etc/fenix/p.yaml"})
    assert config.policy_file == "/etc/fenix/p.yaml"
    assert ServiceConfig.from_environment({"FENIX_API_CLOUD": "test", "FENIX_API_POLICY_FILE": ""}).policy_file is None
    with pytest.raises(ValueError, match="FENIX_API_POLICY_FILE: FENIX_API_AUTH=none checks nobody, so a policy file"
                                         " would not apply; unset one of them"):
        ServiceConfig.from_environment({"FENIX_API_AUTH": "none", "FENIX_API_POLICY_FILE": "/etc/fenix/p.yaml"})


def test_auth_token_is_configured_from_the_service_clouds_yaml_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", service_clouds_yaml(tmp_path, cloud="fenix-api"))
    options = middleware_options("fenix-api", 120.0)
    conf = options.pop("oslo_config_config")
    assert options == {
        "auth_type": "password", "www_authenticate_uri": NOWHERE, "interface": "public", "region_name": "RegionOne",
        "cafile": None, "certfile": None, "keyfile": None, "insecure": False, "delay_auth_decision": True,
        "token_cache_time": 120, "include_service_catalog": False, "service_token_roles_required": True}
    username, password, project = SERVICE_USER
    section = conf.keystone_authtoken
    assert (section.auth_url, section.username, section.password, section.project_name) == (
        NOWHERE, username, password, project)
    assert (section.user_domain_name, section.project_domain_name) == ("Default", "Default")


def test_auth_token_configuration_errors_name_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", service_clouds_yaml(tmp_path))
    with pytest.raises(ValueError, match="FENIX_API_CLOUD: clouds.yaml entry nowhere: .*nowhere"):
        middleware_options("nowhere", 300)
    with open(tmp_path / "clouds.yaml", "w") as handle:
        handle.write('{"clouds": {"test": {"auth_type": "password", "auth": {"auth_url": "%s", "username": "u",'
                     ' "password": "p", "project_name": "p", "token": "t"}}}}' % NOWHERE)
    with pytest.raises(ValueError, match="FENIX_API_CLOUD: clouds.yaml entry test: .*'token'"):
        middleware_options("test", 300)


def test_identity_is_read_only_from_a_request_auth_token_has_seen():
    environ = {"HTTP_X_AUTH_TOKEN": "t", "HTTP_X_IDENTITY_STATUS": "Confirmed", "HTTP_X_ROLES": "admin"}
    with pytest.raises(RuntimeError, match="did not pass keystonemiddleware's auth_token"):
        caller_of(environ, Policy())
    seen = dict(environ, **{"keystone.token_auth": object(), "HTTP_X_ROLES": "admin, member",
                            "HTTP_X_PROJECT_ID": "px", "HTTP_X_USER_ID": "ux"})
    caller = caller_of(seen, Policy())
    assert (caller.user_id, caller.project_id, caller.roles) == ("ux", "px", frozenset(["admin", "member"]))


def test_the_api_reference_lists_every_rule_with_its_default():
    with open(os.path.join(ROOT, "docs", "api.md")) as handle:
        reference = handle.read()
    for name, check, _description in BASE_RULES:
        assert "| `%s` | `%s` |" % (name, check) in reference
    for name, (base, _operations) in operation_rules().items():
        assert "`%s`" % name in reference, name
