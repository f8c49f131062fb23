# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Where the journal is: the embedded default, a SQLite file, or a PostgreSQL DSN."""

from __future__ import annotations

import os
from typing import Optional

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.backends import is_dsn
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal


def default_journal_path() -> str:
    """FENIX_JOURNAL, or a file in the user's state directory (the embedded default)."""
    state_home = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.environ.get("FENIX_JOURNAL") or os.path.join(state_home, "fenix.maintenance", "journal.sqlite")


def journal_path(location: Optional[str]) -> str:
    """A PostgreSQL DSN as given, or the absolute path of the SQLite file."""
    location = location or default_journal_path()
    if is_dsn(location):
        return location
    return os.path.abspath(os.path.expanduser(location))


def journal_exists(location: str) -> bool:
    """Whether reading needs no new file; a database server always counts as there."""
    return is_dsn(location) or os.path.exists(location)


def open_journal(location: Optional[str]) -> Journal:
    """The journal at ``location`` (or the default); a SQLite file is created with its directory."""
    location = journal_path(location)
    if not is_dsn(location):
        os.makedirs(os.path.dirname(location), exist_ok=True)
    return Journal(location)
