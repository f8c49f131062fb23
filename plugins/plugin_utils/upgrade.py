# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Upgrade plugins: the base class they build on and how their names are found.

An upgrade plugin is a Python file with a class ``UpgradePlugin``; the action
plugin ``fenix.maintenance.upgrade_plugins`` makes one per session action,
``UpgradePlugin(action, task_vars)``, and calls
``run(metadata, host, check_mode)``, which returns a result dict
(``changed``, ``msg``, anything else) or raises ``UpgradePluginError``.

A plugin module may document its metadata in a ``DOCUMENTATION`` string, the
YAML of a module's (``short_description``, ``description``, ``options``): its
options are then the metadata's keys, with their types (coerced as Ansible
coerces a module's options), ``required``, ``default`` and ``choices``.
Without one, the plugin checks its metadata itself (``metadata_keys``,
``validate``), as before.

Names resolve like this (docs/upgrade_plugins.md):

- ``NAMESPACE.COLLECTION.NAME``: ``plugins/sub_plugins/upgrade/NAME.py`` of that
  installed collection;
- ``NAME``: this collection's ``plugins/sub_plugins/upgrade/NAME.py``, else
  ``<dir>/NAME.py`` in the first of the ``plugin_dirs`` that has it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Optional

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

OWN_COLLECTION = "fenix.maintenance"
SUB_PLUGIN_PACKAGE = "plugins.sub_plugins.upgrade"
CLASS_NAME = "UpgradePlugin"

# The keys of a documented option that mean the same in an argument spec
# (as ansible.utils' argspec_validate takes them from a DOCUMENTATION).
SPEC_KEYS = ("type", "required", "default", "choices", "elements", "aliases", "no_log")

# A plugin name part is a Python identifier: it becomes a module name, and
# nothing like "../" can reach outside the directories searched.
_NAME_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UpgradePluginError(Exception):
    """An upgrade plugin failed; the message becomes the task's failure message.

    Keyword arguments (rc, stdout, stderr, ...) are kept as ``details`` and
    recorded with the failure in the journal and the task result.
    """

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


class PluginNotFound(LookupError):
    """No upgrade plugin of that name; the message lists where it was looked for."""


def argument_spec(documentation: str) -> Dict[str, Dict[str, Any]]:
    """The argument spec that the ``options`` of a DOCUMENTATION YAML describe."""
    return _spec_of(yaml.safe_load(documentation).get("options") or {})


def _spec_of(options: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    spec = {}
    for name, option in options.items():
        spec[name] = {key: option[key] for key in SPEC_KEYS if key in option}
        if "suboptions" in option:
            spec[name]["options"] = _spec_of(option["suboptions"])
    return spec


def plugin_documentation(plugin_class: type) -> Optional[str]:
    """The DOCUMENTATION of the module that defines ``plugin_class``, if it has one."""
    return getattr(sys.modules.get(plugin_class.__module__), "DOCUMENTATION", None)


def check_metadata(documentation: str, metadata: Dict[str, Any], where: str = "metadata",
                   coerce: bool = True) -> Dict[str, Any]:
    """``metadata`` checked against the options ``documentation`` describes; the given options, coerced.

    Each option is validated on its own by Ansible's ArgumentSpecValidator, so
    every problem names its option (``<where>.<option>``). With ``coerce``
    false, a value that coercion would change (``"yes"`` for a bool) is refused.
    """
    spec = argument_spec(documentation)
    problems = []
    unknown = sorted(set(metadata) - set(spec))
    if unknown:
        named = "" if where == "metadata" else " (%s)" % ", ".join("%s.%s" % (where, key) for key in unknown)
        problems.append("metadata: unknown key(s) %s%s; this plugin takes %s"
                        % (", ".join(unknown), named, ", ".join(sorted(spec)) or "none"))
    problems += ["%s.%s: required; this plugin needs it" % (where, name)
                 for name, option in sorted(spec.items()) if option.get("required") and name not in metadata]
    checked = {}
    for name in sorted(set(metadata) & set(spec)):
        result = ArgumentSpecValidator({name: spec[name]}).validate({name: metadata[name]})
        value = result.validated_parameters[name]
        if result.error_messages:
            problems += ["%s.%s: %s" % (where, name, message) for message in result.error_messages]
        elif not coerce and value != metadata[name]:
            problems.append("%s.%s: %r is not of type %s" % (where, name, metadata[name], spec[name].get("type", "str")))
        else:
            checked[name] = value
    if problems:
        raise UpgradePluginError("; ".join(problems))
    return checked


class UpgradePluginBase:
    """Base class for upgrade plugins (they may also be plain classes with the same methods).

    ``action`` is the running ``fenix.maintenance.upgrade_plugins`` action plugin:
    its connection is the task's, so modules and action plugins run through
    it act on the task's host (the compute host for host-type actions).
    """

    # The metadata keys an undocumented plugin understands; None accepts any.
    # A plugin with a DOCUMENTATION takes the options it documents instead.
    metadata_keys: Optional[FrozenSet[str]] = None

    def __init__(self, action: Any, task_vars: Dict[str, Any]) -> None:
        self.action = action
        self.task_vars = task_vars

    def validate(self, metadata: Dict[str, Any]) -> None:
        """Raise UpgradePluginError when ``metadata`` cannot work; nothing has run yet.

        The action plugin passes the metadata already coerced to the documented
        types; called directly, a value not already of its type is refused.
        """
        documentation = plugin_documentation(type(self))
        if documentation is not None:
            check_metadata(documentation, metadata, coerce=False)
            return
        if self.metadata_keys is None:
            return
        unknown = sorted(set(metadata) - set(self.metadata_keys))
        if unknown:
            raise UpgradePluginError("metadata: unknown key(s) %s; this plugin takes %s"
                                     % (", ".join(unknown), ", ".join(sorted(self.metadata_keys)) or "none"))

    def options(self, metadata: Dict[str, Any]) -> Dict[str, Any]:
        """``metadata`` coerced to the documented types, with the documented defaults of the options not given."""
        documentation = plugin_documentation(type(self))
        if documentation is None:
            return dict(metadata)
        defaults = {name: option["default"] for name, option in argument_spec(documentation).items() if "default" in option}
        return dict(defaults, **check_metadata(documentation, metadata))

    def run(self, metadata: Dict[str, Any], host: Optional[str], check_mode: bool) -> Dict[str, Any]:
        raise NotImplementedError("upgrade plugins implement run(metadata, host, check_mode)")

    def run_module(self, name: str, args: Dict[str, Any]) -> Dict[str, Any]:
        """Run module ``name`` (e.g. ansible.builtin.command) on the task's host; its result dict."""
        return self.action.execute_module(name, args, self.task_vars)

    def run_action(self, name: str, args: Dict[str, Any]) -> Dict[str, Any]:
        """Run action plugin ``name`` (e.g. ansible.builtin.reboot) for the task's host; its result dict."""
        return self.action.execute_action(name, args, self.task_vars)

    @staticmethod
    def raise_if_failed(result: Dict[str, Any], what: str) -> Dict[str, Any]:
        """``result`` when it did not fail; else UpgradePluginError with its message, rc and output."""
        if not result.get("failed"):
            return result
        details = {key: result[key] for key in ("rc", "stdout", "stderr") if key in result}
        reason = result.get("msg") or "failed"
        if result.get("rc"):
            reason = "%s (rc=%s)" % (reason, result["rc"])
        stderr = (result.get("stderr") or "").strip()
        if stderr and stderr not in reason:
            reason = "%s: %s" % (reason, stderr[-2000:])
        raise UpgradePluginError("%s: %s" % (what, reason), **details)


@dataclass
class LoadedPlugin:
    name: str
    plugin_class: type
    source: str  # the module or file it came from, for messages


def load_plugin(name: str, plugin_dirs: List[str]) -> LoadedPlugin:
    """The plugin class ``name`` resolves to; PluginNotFound says where it looked."""
    parts = name.split(".") if isinstance(name, str) else []
    if not parts or not all(_NAME_PART.match(part) for part in parts) or len(parts) not in (1, 3):
        raise PluginNotFound("%r is not an upgrade plugin name; write NAME (this collection or plugin_dirs)"
                             " or NAMESPACE.COLLECTION.NAME" % (name,))
    if len(parts) == 3:
        collection = "%s.%s" % (parts[0], parts[1])
        found = _import_from_collection(name, collection, parts[2])
        if found:
            return found
        raise PluginNotFound("upgrade plugin %s not found: looked for %s (is the collection %s installed"
                             " in ANSIBLE_COLLECTIONS_PATH?)" % (name, _module_path(collection, parts[2]), collection))
    found = _import_from_collection(name, OWN_COLLECTION, name)
    if found:
        return found
    looked = [_module_path(OWN_COLLECTION, name)]
    for directory in plugin_dirs:
        path = os.path.join(directory, name + ".py")
        looked.append(path)
        if os.path.isfile(path):
            return LoadedPlugin(name, _plugin_class(_import_file(name, path), path), path)
    hint = "" if plugin_dirs else "; give plugin_dirs for your own plugins"
    raise PluginNotFound("upgrade plugin %s not found: looked for %s%s" % (name, ", ".join(looked), hint))


def shadowed_in(loaded: LoadedPlugin, plugin_dirs: List[str]) -> List[str]:
    """Files in plugin_dirs that a plain name of this collection's hides (worth a warning)."""
    if "." in loaded.name or loaded.source != _module_path(OWN_COLLECTION, loaded.name):
        return []
    return [path for path in (os.path.join(d, loaded.name + ".py") for d in plugin_dirs) if os.path.isfile(path)]


def _module_path(collection: str, name: str) -> str:
    return "ansible_collections.%s.%s.%s" % (collection, SUB_PLUGIN_PACKAGE, name)


def _import_from_collection(name: str, collection: str, short_name: str) -> Optional[LoadedPlugin]:
    module_name = _module_path(collection, short_name)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only a missing plugin module (or collection) means "not here"; a
        # plugin that fails importing one of its own dependencies is an error.
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise PluginNotFound("upgrade plugin %s (%s) cannot be loaded: %s" % (name, module_name, exc)) from exc
    except Exception as exc:
        raise PluginNotFound("upgrade plugin %s (%s) cannot be loaded: %s: %s"
                             % (name, module_name, type(exc).__name__, exc)) from exc
    return LoadedPlugin(name, _plugin_class(module, module_name), module_name)


def _import_file(name: str, path: str):
    # A name unique per file, so two directories' plugins of the same name
    # do not replace each other in sys.modules.
    digest = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:12]
    module_name = "fenix_maintenance_upgrade_plugin_%s_%s" % (name, digest)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginNotFound("upgrade plugin %s: %s is not a Python file that can be imported" % (name, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise PluginNotFound("upgrade plugin %s (%s) cannot be loaded: %s: %s"
                             % (name, path, type(exc).__name__, exc)) from exc
    return module


def _plugin_class(module, source: str) -> type:
    plugin_class = getattr(module, CLASS_NAME, None)
    if not isinstance(plugin_class, type) or not callable(getattr(plugin_class, "run", None)):
        raise PluginNotFound("%s has no class %s with a run(metadata, host, check_mode) method" % (source, CLASS_NAME))
    return plugin_class
