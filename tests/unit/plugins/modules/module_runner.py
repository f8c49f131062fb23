"""Run a module's class in-process against a FakeCloud, as Ansible would."""

import json
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.fenix.maintenance.plugins.module_utils import base as openstack_utils


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg"))
        self.result = result
        self.failed = failed


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise ModuleExit(json.loads(json.dumps(kwargs)), failed=False)


def _fail_json(self, msg, **kwargs):
    kwargs["msg"] = msg
    raise ModuleExit(json.loads(json.dumps(kwargs)), failed=True)


def run_module(module_class, args, cloud, check_mode=False, diff=False):
    """The module's result dict; ``result['failed']`` is True when it failed."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), \
            mock.patch.object(basic.AnsibleModule, "exit_json", _exit_json), \
            mock.patch.object(basic.AnsibleModule, "fail_json", _fail_json), \
            mock.patch.object(openstack_utils.OpenStackModule, "openstack_cloud_from_module", return_value=cloud):
        try:
            module_class()()
        except ModuleExit as done:
            return dict(done.result, failed=done.failed)
    raise AssertionError("the module neither exited nor failed")
