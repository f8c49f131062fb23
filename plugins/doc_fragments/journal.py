# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The journal option of the modules that read or write sessions
    # (OpenStackModule.uses_journal in plugins/module_utils/base.py adds it).
    DOCUMENTATION = r"""
options:
  journal:
    description:
      - The session journal. A file path keeps it in SQLite (the embedded default);
        a PostgreSQL DSN (C(postgresql://user@host:5432/db)) keeps it in a database
        shared by several machines, and needs the Python package psycopg 3.
      - Defaults to E(FENIX_JOURNAL), or C(~/.local/state/fenix.maintenance/journal.sqlite).
      - Put a database password in C(~/.pgpass) or E(PGPASSWORD) rather than in the DSN.
    type: str
"""
