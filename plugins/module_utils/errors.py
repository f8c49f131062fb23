# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The one base of the engine's errors that a user can act on.

Every engine error whose message names the field and the fix derives from
``MaintenanceError``, so the module base, the action plugin and the API map
them to an answer in one place.
"""

from __future__ import annotations


class MaintenanceError(Exception):
    """Something the user asked cannot be done as asked; the message says what to change."""
