"""Modules with token_cache: the kept token is loaded when the connection opens and the one used is kept."""

import os
from types import SimpleNamespace
from unittest import mock

from ansible.module_utils import basic

from ansible_collections.fenix.maintenance.plugins.modules.compute_host_info import ComputeHostInfoModule
from fakes import FakeCloud, authenticated, password_auth
from module_runner import run_module


class CloudWithAuth(FakeCloud):
    """The fake cloud with a keystoneauth plugin as its session's auth, as openstacksdk's connection has."""

    def __init__(self, auth) -> None:
        super().__init__()
        self.session = SimpleNamespace(auth=auth)


def test_a_module_loads_the_kept_token_and_keeps_the_one_it_used(tmp_path):
    directory = str(tmp_path / "tokens")
    first = CloudWithAuth(authenticated(password_auth(), "token-1"))
    assert run_module(ComputeHostInfoModule, {"token_cache": directory}, first)["failed"] is False
    second = CloudWithAuth(password_auth())
    assert run_module(ComputeHostInfoModule, {"token_cache": directory}, second)["failed"] is False
    assert second.session.auth.auth_ref.auth_token == "token-1", "the second run used the first run's token"


def test_a_module_without_token_cache_writes_nothing(tmp_path):
    with mock.patch.dict(os.environ, {"HOME": str(tmp_path)}):
        result = run_module(ComputeHostInfoModule, {}, CloudWithAuth(authenticated(password_auth(), "token-1")))
    assert result["failed"] is False
    assert os.listdir(str(tmp_path)) == []


def test_a_directory_that_cannot_be_written_is_a_warning(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with mock.patch.object(basic.AnsibleModule, "warn") as warn:
        result = run_module(ComputeHostInfoModule, {"token_cache": str(blocked / "tokens")},
                            CloudWithAuth(authenticated(password_auth(), "token-1")))
    assert result["failed"] is False
    assert warn.call_args.args[0].startswith("token_cache: cannot keep the cloud's token in %s (" % (blocked / "tokens"))
