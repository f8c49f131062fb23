"""The Keystone token kept between module runs (token_cache), with keystoneauth's own plugins."""

import json
import os
import stat
from types import SimpleNamespace

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.token_cache import load_token, save_token, token_file
from fakes import authenticated, password_auth


def test_a_token_written_by_one_run_is_loaded_by_the_next(tmp_path):
    directory = str(tmp_path / "tokens")
    assert save_token(directory, authenticated(password_auth(), "token-1"), loaded=None) is True
    next_run = password_auth()
    assert load_token(directory, next_run) == "token-1"
    assert next_run.auth_ref.auth_token == "token-1"
    assert not next_run.auth_ref.will_expire_soon(120)


def test_the_directory_and_the_file_are_private(tmp_path):
    directory = str(tmp_path / "tokens")
    auth = authenticated(password_auth(), "token-1")
    save_token(directory, auth, loaded=None)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(token_file(directory, auth)).st_mode) == 0o600
    assert sorted(os.listdir(directory)) == [os.path.basename(token_file(directory, auth))], "no temporary file left"


def test_other_credentials_never_load_the_token(tmp_path):
    directory = str(tmp_path)
    save_token(directory, authenticated(password_auth(), "token-1"), loaded=None)
    for other in (password_auth(password="changed"), password_auth(project="tenant-a")):
        assert load_token(directory, other) is None
        assert other.auth_ref is None


def test_the_token_loaded_is_not_written_again(tmp_path):
    directory = str(tmp_path)
    save_token(directory, authenticated(password_auth(), "token-1"), loaded=None)
    path = token_file(directory, password_auth())
    os.utime(path, (0, 0))
    again = password_auth()
    loaded = load_token(directory, again)
    assert save_token(directory, again, loaded) is False
    assert os.stat(path).st_mtime == 0


def test_a_token_replaced_during_the_run_is_written_over_the_old_one(tmp_path):
    directory = str(tmp_path)
    save_token(directory, authenticated(password_auth(), "token-1"), loaded=None)
    run = password_auth()
    loaded = load_token(directory, run)
    authenticated(run, "token-2")  # keystoneauth authenticated again: token-1 was refused or about to expire
    assert save_token(directory, run, loaded) is True
    assert load_token(directory, password_auth()) == "token-2"


def test_an_unreadable_file_is_as_good_as_none(tmp_path):
    directory = str(tmp_path)
    auth = password_auth()
    for content in ("not json", json.dumps({"auth_token": "t"}), json.dumps({"body": {}})):
        with open(token_file(directory, auth), "w") as handle:
            handle.write(content)
        assert load_token(directory, auth) is None
        assert auth.auth_ref is None


def test_an_auth_plugin_without_a_cache_id_keeps_nothing(tmp_path):
    fixed_token = SimpleNamespace(auth_ref=SimpleNamespace(auth_token="fixed"), get_auth_state=lambda: "{}")
    assert token_file(str(tmp_path), fixed_token) is None
    assert load_token(str(tmp_path), fixed_token) is None
    assert save_token(str(tmp_path), fixed_token, loaded=None) is False
    assert os.listdir(str(tmp_path)) == []


def test_nothing_is_written_before_the_run_authenticated(tmp_path):
    assert save_token(str(tmp_path / "tokens"), password_auth(), loaded=None) is False
    assert not os.path.exists(str(tmp_path / "tokens"))
