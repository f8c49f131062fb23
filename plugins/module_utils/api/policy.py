# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Who may call what: the API's oslo.policy rules, their defaults, and the operator's policy file.

Two base rules say who is an admin and who may act for a project; one rule
per operation of api/schema.py's ROUTES (``maintenance:<operation>``)
defaults to one of them, so an operator can open or close one endpoint
(a reader role for the reports, say) without touching the others. A policy
file (YAML, as every OpenStack service takes) overrides any of them; it is
read when the service starts and again whenever it changes.
"""

from __future__ import annotations

import os
from typing import Dict, List, Mapping, Optional, Tuple

try:
    from oslo_config import cfg
    from oslo_policy import policy as oslo_policy
    HAS_OSLO_POLICY = True
except ImportError:
    HAS_OSLO_POLICY = False  # app.build says which libraries the keystone mode needs

from ansible_collections.fenix.maintenance.plugins.module_utils.api.schema import ROUTES

POLICY_FILE_VARIABLE = "FENIX_API_POLICY_FILE"
ADMIN_RULE = "maintenance:admin"
PROJECT_RULE = "maintenance:project"

# (name, default, description) of the base rules; an operation's rule refers to one of them.
BASE_RULES: Tuple[Tuple[str, str, str], ...] = (
    (ADMIN_RULE, "role:admin",
     "An admin of the cloud: may call the admin endpoints, and act for any project."),
    (PROJECT_RULE, "rule:%s or project_id:%%(project_id)s" % ADMIN_RULE,
     "May act for the project in question (the one in the path, or that owns the constraint): an admin,"
     " or a token scoped to that project."),
)
_BASE_OF = {"admin": ADMIN_RULE, "project": PROJECT_RULE}


def operation_rule(operation: str) -> str:
    """The policy rule of one operation of ROUTES."""
    return "maintenance:" + operation


def operation_rules() -> Dict[str, Tuple[str, List[Tuple[str, str]]]]:
    """Rule name -> (the base rule it defaults to, its [(method, path)]), for every operation that is not public."""
    rules: Dict[str, Tuple[str, List[Tuple[str, str]]]] = {}
    for method, path, operation, who, _request, _response in ROUTES:
        if who != "public":
            rules.setdefault(operation_rule(operation), (_BASE_OF[who], []))[1].append((method.upper(), path))
    return rules


def rule_defaults() -> list:
    """The rules as oslo.policy registers them (and documents them: description, operations)."""
    defaults = [oslo_policy.RuleDefault(name, check, description=description) for name, check, description in BASE_RULES]
    for name, (base, operations) in operation_rules().items():
        defaults.append(oslo_policy.DocumentedRuleDefault(
            name, "rule:" + base, "Who may call " + ", ".join("%s %s" % operation for operation in operations),
            [{"method": method, "path": path} for method, path in operations]))
    return defaults


class PolicyFileError(ValueError):
    """A policy file that is missing or that the service cannot use; the message names the setting."""


class Policy:
    """The service's oslo.policy Enforcer over its own configuration (never sys.argv nor files under /etc)."""

    def __init__(self, policy_file: Optional[str] = None) -> None:
        self.policy_file = os.path.abspath(policy_file) if policy_file else None
        conf = cfg.ConfigOpts()
        # A private configuration: no command line, no config files or directories found by name.
        conf(args=[], project="fenix-maintenance-api", default_config_files=[], default_config_dirs=[])
        self.enforcer = oslo_policy.Enforcer(conf, policy_file=self.policy_file)
        defaults = rule_defaults()
        self.enforcer.register_defaults(defaults)
        if self.policy_file:
            # No policy.d directory looked up beside configuration files the service does not have.
            conf.set_override("policy_dirs", [], group="oslo_policy")
            self._load()
        else:
            # The defaults are the rules, and use_conf=False: oslo.policy would otherwise look for a
            # policy.yaml in the home directory and /etc.
            self.enforcer.set_rules(oslo_policy.Rules({rule.name: rule.check for rule in defaults}), use_conf=False)

    def _load(self) -> None:
        """Read and check the operator's file now, so a mistake stops the service instead of being found by a
        caller (oslo.policy itself would deny everyone a check string it cannot parse, and say it in the log)."""
        rules = self._read_file()
        unparsable = sorted(name for name, text in rules.items()
                            if text.strip() != "!" and str(oslo_policy.RuleDefault(name, text).check) == "!")
        if unparsable:
            raise PolicyFileError("%s: %s: the check string of %s is not one oslo.policy can parse (the log shows"
                                  " why); write it like \"role:admin or project_id:%%(project_id)s\""
                                  % (POLICY_FILE_VARIABLE, self.policy_file, ", ".join(unparsable)))
        self.enforcer.load_rules()
        try:
            self.enforcer.check_rules(raise_on_violation=True)
        except oslo_policy.InvalidDefinitionError as exc:
            raise PolicyFileError("%s: %s has rules that refer to rules nobody defines, or to themselves: %s"
                                  % (POLICY_FILE_VARIABLE, self.policy_file, exc))

    def _read_file(self) -> Dict[str, str]:
        if not os.path.isfile(self.policy_file):
            raise PolicyFileError("%s: %s is not a file; give the path of a YAML policy file, or unset it to"
                                  " use the default rules" % (POLICY_FILE_VARIABLE, self.policy_file))
        try:
            with open(self.policy_file) as handle:
                rules = oslo_policy.parse_file_contents(handle.read())
        except (OSError, ValueError) as exc:  # ValueError: not YAML
            raise PolicyFileError("%s: %s cannot be read as a policy file: %s" % (POLICY_FILE_VARIABLE, self.policy_file, exc))
        if not isinstance(rules, dict) or not all(isinstance(name, str) and isinstance(text, str)
                                                  for name, text in rules.items()):
            raise PolicyFileError("%s: %s is not a mapping of rule names to check strings, such as"
                                  " \"maintenance:list_sessions\": \"role:reader or rule:maintenance:admin\""
                                  % (POLICY_FILE_VARIABLE, self.policy_file))
        return rules

    def allows(self, rule: str, credentials: Mapping[str, object], project_id: Optional[str] = None) -> bool:
        """Whether ``rule`` allows a caller with ``credentials`` (user_id, project_id, roles) to act for
        ``project_id``; None: no project in question."""
        # A missing project_id is left out, never sent as None: oslo.policy compares the strings, and
        # "None" == "None" would let a token without a project act for a target without one.
        target = {"project_id": project_id} if project_id is not None else {}
        return self.enforcer.authorize(rule, target, dict(credentials))
