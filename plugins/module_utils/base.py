# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The base of every module: the cloud connection and the session journal, each opened on first use.

As openstack.cloud's ``OpenStackModule`` owns the connection, this base also
owns the journal: one ``journal`` option, opened when a module first needs
it, always closed; and one place that turns the engine's errors into
``fail_json`` with the message a user needs.
"""

from __future__ import annotations

import logging
from importlib.metadata import version as installed_version
from typing import Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.connection import (
    HAS_SDK,
    SDK_IMPORT_ERROR,
    connect,
    enable_sdk_logging,
    is_sdk_error,
    openstack_full_argument_spec,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.token_cache import load_token, save_token
from ansible_collections.fenix.maintenance.plugins.module_utils.errors import MaintenanceError
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.backends import redact_dsn
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.location import (
    journal_exists,
    journal_path,
    open_journal,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import HostRecord, Session, SessionNotFound
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

MINIMUM_SDK_VERSION = "1.0.0"


def journal_argument_spec() -> dict:
    """The ``journal`` option of every module that reads or writes sessions (doc fragment ``journal``)."""
    # A DSN may carry a password, but the option names a location: Ansible's
    # no_log heuristics would otherwise hide every journal path in the output.
    return dict(journal=dict(type="str", no_log=False))


# The module_kwargs of a module that acts on one host (host) or on the hosts of a batch (hosts).
ONE_HOST_OR_SEVERAL = dict(mutually_exclusive=[("host", "hosts")], required_one_of=[("host", "hosts")])


def hosts_given(params: dict) -> List[str]:
    """The hosts of ``host`` or ``hosts`` (ONE_HOST_OR_SEVERAL); ValueError for an empty list."""
    if params["host"] is not None:
        return [params["host"]]
    if not params["hosts"]:
        raise ValueError("hosts: give at least one host (or use host)")
    return list(params["hosts"])


def _version_tuple(version: str) -> tuple:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


class OpenStackModule:
    """Base of every module: options, connection, journal, errors.

    A subclass sets ``argument_spec`` (its own options), ``module_kwargs``
    (AnsibleModule keyword arguments), ``uses_journal`` when it reads or
    writes sessions, and implements ``run()``, which returns the result dict.
    An engine error raised in ``run()`` fails the module with its message and
    ``partial_result``, which a module that builds its result before the step
    that may fail sets to that dict. ``main()`` is ``XModule()()``.
    """

    argument_spec: dict = {}
    module_kwargs: dict = {}
    uses_journal: bool = False

    def __init__(self) -> None:
        spec = openstack_full_argument_spec(**self.argument_spec)
        if self.uses_journal:
            spec.update(journal_argument_spec())
        self.ansible = AnsibleModule(spec, **self.module_kwargs)
        self.params = self.ansible.params
        self.check_mode = self.ansible.check_mode
        self.diff_mode = self.ansible._diff
        self.exit_json = self.ansible.exit_json
        self.fail_json = self.ansible.fail_json
        self.warn = self.ansible.warn
        self._conn = None
        self._loaded_token: Optional[str] = None
        self._journal: Optional[Journal] = None
        self.partial_result: dict = {}

    @property
    def conn(self):
        """The cloud connection, opened on first use (a module that only reads
        the journal never needs one)."""
        if self._conn is None:
            self._require_sdk()
            self._setup_sdk_logging()
            self._conn = self.openstack_cloud_from_module()
            if self.params["token_cache"]:
                self._loaded_token = load_token(self.params["token_cache"], self._conn.session.auth)
        return self._conn

    @property
    def journal_location(self) -> str:
        """The journal's SQLite path or PostgreSQL DSN (the option, FENIX_JOURNAL, or the default)."""
        return journal_path(self.params.get("journal"))

    @property
    def journal_shown(self) -> str:
        """The journal's location as results and messages may show it (no password)."""
        return redact_dsn(self.journal_location)

    @property
    def journal_exists(self) -> bool:
        """Whether reading the journal needs no new file (check mode must not create one)."""
        return journal_exists(self.journal_location)

    @property
    def journal(self) -> Journal:
        """The session journal, opened (and created) on first use, closed when the module ends."""
        if self._journal is None:
            self._journal = open_journal(self.journal_location)
        return self._journal

    def session(self, session_id: str, option: str = "session_id") -> Session:
        """The named session; a missing one fails the module naming the option."""
        try:
            return self.journal.session(session_id)
        except SessionNotFound as exc:
            self.fail("%s: %s; create the session first (maintenance_session)" % (option, exc))
            raise  # fail_json exits; this keeps the return type honest

    def find_session(self, session_id: Optional[str]) -> Optional[Session]:
        """The named session, or None when none is named or the journal does not have it."""
        if not session_id:
            return None
        try:
            return self.journal.session(session_id)
        except SessionNotFound:
            return None

    def _require_sdk(self) -> None:
        if not HAS_SDK:
            self.fail_json(msg=missing_required_lib("openstacksdk"), exception=str(SDK_IMPORT_ERROR))
        version = installed_version("openstacksdk")
        if _version_tuple(version) < _version_tuple(MINIMUM_SDK_VERSION):
            self.fail_json(
                msg="openstacksdk %s is too old: this collection needs >= %s; upgrade it with pip"
                % (version, MINIMUM_SDK_VERSION)
            )

    def _setup_sdk_logging(self) -> None:
        if self.params["sdk_log_path"]:
            enable_sdk_logging(
                debug=self.params["sdk_log_level"] == "DEBUG",
                path=self.params["sdk_log_path"],
            )
        else:
            logging.getLogger("openstack").addHandler(logging.NullHandler())

    def openstack_cloud_from_module(self):
        try:
            return connect(self.params)
        except ValueError as exc:
            self.fail_json(msg=str(exc))
        except Exception as exc:  # pylint: disable=broad-except
            if not is_sdk_error(exc):
                raise
            self.fail_json(msg="cannot connect to the cloud: %s" % exc)

    def close(self) -> None:
        """Close the journal if it was opened (a module never leaves it open behind it); keep a new token."""
        if self._conn is not None and self.params["token_cache"]:
            try:
                save_token(self.params["token_cache"], self._conn.session.auth, self._loaded_token)
            except OSError as exc:
                self.warn("token_cache: cannot keep the cloud's token in %s (%s); every module run authenticates"
                          " on its own" % (self.params["token_cache"], exc))
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def session_hosts(self, session_id: str, hosts: List[str], option: str) -> Dict[str, HostRecord]:
        """The session's record of each of its hosts; one of ``hosts`` it does not have fails the run, naming
        ``option``, before anything is changed."""
        records = {record.host: record for record in self.journal.hosts(session_id)}
        unknown = [host for host in hosts if host not in records]
        if unknown:
            self.fail("%s: %s %s of session %s; its hosts are %s" % (
                option, ", ".join(unknown), "is not a host" if len(unknown) == 1 else "are not hosts", session_id,
                ", ".join(sorted(records)) or "none"))
        return records

    def fail(self, msg: str, **extra) -> None:
        """fail_json with the result so far (``partial_result``) and ``extra``."""
        self.fail_json(msg=msg, **dict(self.partial_result, **extra))

    def run(self) -> dict:
        raise NotImplementedError

    def __call__(self) -> None:
        try:
            result = self.run()
        except (MaintenanceError, ValueError) as exc:
            # The engine's errors name the option and the fix: they are the message.
            self.fail(str(exc))
        except Exception as exc:  # pylint: disable=broad-except
            # The SDK's errors are the message (and, for an HTTP error, its request); any other is a bug: raised.
            if is_sdk_error(exc, "HttpException"):
                self.fail(
                    str(exc),
                    extra_data={
                        "url": getattr(exc, "url", None),
                        "http_status": getattr(exc, "status_code", None),
                        "details": getattr(exc, "details", None),
                    },
                )
            elif is_sdk_error(exc):
                self.fail(str(exc))
            else:
                raise
        finally:
            self.close()
        self.exit_json(**result)
