"""The upgrade plugins' DOCUMENTATION: its options are the metadata's, checked and coerced, and shown in the docs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml
from ansible.plugins.action.reboot import ActionModule as RebootAction

from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import (
    UpgradePluginBase,
    UpgradePluginError,
    argument_spec,
    check_metadata,
    load_plugin,
    plugin_documentation,
)
from ansible_collections.fenix.maintenance.plugins.sub_plugins.upgrade import command, dummy, package_upgrade, reboot

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PAGE = os.path.join(ROOT, "docs", "upgrade_plugins.md")
SHIPPED = {"command": command, "dummy": dummy, "package_upgrade": package_upgrade, "reboot": reboot}
TYPES = {"str", "int", "float", "bool", "list", "dict", "raw"}

SPEC = """
options:
  count: {description: How many., type: int, required: true}
  mode: {description: Which way., type: str, choices: [fast, slow], default: slow}
  names: {description: Names., type: list, elements: str}
  nested:
    description: A dict of its own.
    type: dict
    suboptions:
      flag: {description: A flag., type: bool, default: false}
"""


def test_every_shipped_plugin_documents_its_options_like_a_module():
    shipped = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "sub_plugins", "upgrade"))
                     if name.endswith(".py") and not name.startswith("_"))
    assert shipped == sorted(SHIPPED)
    for name, module in SHIPPED.items():
        doc = yaml.safe_load(plugin_documentation(module.UpgradePlugin))
        assert doc["name"] == name and doc["short_description"] and doc["description"], name
        assert doc["options"], name
        for option, spec in doc["options"].items():
            assert spec["description"] and spec["type"] in TYPES, (name, option)
            assert set(spec) <= {"description", "type", "elements", "required", "default", "choices"}, (name, option)
        # The documentation is the one list of its keys.
        assert module.UpgradePlugin.metadata_keys is None, name
        assert load_plugin(name, []).plugin_class is module.UpgradePlugin


def test_reboot_documents_exactly_the_options_of_ansible_builtin_reboot():
    assert set(argument_spec(reboot.DOCUMENTATION)) == set(RebootAction._VALID_ARGS)


def test_the_argument_spec_of_a_documentation_keeps_types_defaults_choices_and_suboptions():
    assert argument_spec(SPEC) == {
        "count": {"type": "int", "required": True},
        "mode": {"type": "str", "choices": ["fast", "slow"], "default": "slow"},
        "names": {"type": "list", "elements": "str"},
        "nested": {"type": "dict", "options": {"flag": {"type": "bool", "default": False}}},
    }


def test_metadata_are_coerced_like_module_options_and_problems_name_their_option():
    assert check_metadata(SPEC, {"count": "3", "names": "a,b", "nested": {"flag": "yes"}}) == {
        "count": 3, "names": ["a", "b"], "nested": {"flag": True}}
    with pytest.raises(UpgradePluginError) as raised:
        check_metadata(SPEC, {"mode": "quick", "nested": {"flag": "maybe"}, "cuont": 1}, "actions[4].metadata")
    assert raised.value.msg.split("; ")[:4] == [
        "metadata: unknown key(s) cuont (actions[4].metadata.cuont)",
        "this plugin takes count, mode, names, nested",
        "actions[4].metadata.count: required",
        "this plugin needs it",
    ]
    assert "actions[4].metadata.mode: value of mode must be one of: fast, slow, got: quick" in raised.value.msg
    assert "actions[4].metadata.nested: argument 'flag' is of type str found in 'nested'" in raised.value.msg


def test_called_directly_validate_refuses_what_coercion_would_change_and_options_adds_the_defaults():
    plugin = package_upgrade.UpgradePlugin(None, {})
    plugin.validate({"names": ["nova-compute"], "update_cache": True})
    plugin.validate({"names": "nova-compute"})  # the one shorthand it takes as it is
    with pytest.raises(UpgradePluginError, match=r"^metadata.update_cache: 'yes' is not of type bool$"):
        plugin.validate({"update_cache": "yes"})
    assert plugin.options({"update_cache": "yes"}) == {"names": ["*"], "update_cache": True, "manager": "auto"}
    with pytest.raises(UpgradePluginError, match="^metadata.update_cache: argument 'update_cache' is of type str"):
        plugin.options({"update_cache": "maybe"})


def test_an_undocumented_plugin_keeps_its_metadata_keys_and_gets_its_metadata_as_given():
    class Undocumented(UpgradePluginBase):
        metadata_keys = frozenset(("a",))

    plugin = Undocumented(None, {})
    assert plugin_documentation(Undocumented) is None
    plugin.validate({"a": "anything"})
    with pytest.raises(UpgradePluginError, match=r"^metadata: unknown key\(s\) b; this plugin takes a$"):
        plugin.validate({"b": 1})
    assert plugin.options({"a": "1"}) == {"a": "1"}


def test_the_documented_example_plugin_works(tmp_path):
    page = open(PAGE, encoding="utf-8").read()
    example = page[page.index("## A complete example"):]
    code = re.search(r"```python\n(.*?)```", example, re.S).group(1)
    (tmp_path / "drain_local_services.py").write_text(code)
    plugin_class = load_plugin("drain_local_services", [str(tmp_path)]).plugin_class

    documentation = plugin_documentation(plugin_class)
    metadata = check_metadata(documentation, {"services": "ceilometer-polling"})
    assert metadata == {"services": ["ceilometer-polling"]}

    class Host:
        calls = []

        def execute_module(self, name, args, task_vars):
            self.calls.append((name, args))
            return {"changed": True}

    plugin = plugin_class(Host(), {})
    plugin.validate(metadata)
    assert plugin.run(metadata, "compute1", False) == {
        "changed": True, "msg": "stopped ceilometer-polling", "stopped": ["ceilometer-polling"]}
    assert Host.calls == [("ansible.builtin.systemd_service", {"name": "ceilometer-polling", "state": "stopped"})]
    with pytest.raises(UpgradePluginError, match="services: required"):
        check_metadata(documentation, {})
    with pytest.raises(UpgradePluginError, match="give the systemd units to stop"):
        plugin.validate({"services": []})


def write_options(page):
    done = subprocess.run([os.path.join(ROOT, "scripts", "docs"), "--upgrade-plugins", str(page)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_page_shows_the_options_scripts_docs_writes_from_the_documentation(tmp_path):
    """Run scripts/docs (no argument) to rewrite docs/upgrade_plugins.md when this fails."""
    page = tmp_path / "upgrade_plugins.md"
    shutil.copy(PAGE, page)
    write_options(page)
    assert page.read_text() == open(PAGE, encoding="utf-8").read()

    shown = page.read_text()
    for name, module in SHIPPED.items():
        assert "### `%s`" % name in shown
        for option in argument_spec(module.DOCUMENTATION):
            assert re.search(r"^\| `%s` \|" % option, shown, re.M), (name, option)


def test_a_stale_page_is_rewritten(tmp_path):
    page = tmp_path / "upgrade_plugins.md"
    fresh = open(PAGE, encoding="utf-8").read()
    page.write_text(re.sub(r"^\| `reboot_timeout` .*\n", "", fresh, flags=re.M).replace("`auto`", "`apt`"))
    assert page.read_text() != fresh
    write_options(page)
    assert page.read_text() == fresh
