# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""One Keystone token for many module runs (the option ``token_cache``).

Each module run is a process of its own. Without a cache each one asks Keystone
for a token (a password check), and every service it then calls validates that
new token with Keystone once more. A rolling maintenance makes dozens of module
runs, so they share a token: the first run writes it, the next ones load it.

keystoneauth replaces a loaded token that expires within two minutes, or one a
service refuses (401), by a new one; the module writes that one back.

The tokens of each set of credentials have a file of their own, named by a hash
of keystoneauth's cache id (itself a hash of the auth URL, user, project,
password...): other credentials never load it. A token is a credential: the
directory is made 0700 and each file is written 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Optional


def token_file(directory: str, auth) -> Optional[str]:
    """The file of ``auth``'s credentials in ``directory``; None for an auth plugin without a cache id
    (a fixed token, no auth): nothing to keep."""
    get_cache_id = getattr(auth, "get_cache_id", None)
    cache_id = get_cache_id() if get_cache_id is not None else None
    if not cache_id:
        return None
    return os.path.join(directory, "token-%s.json" % hashlib.sha256(cache_id.encode("utf-8")).hexdigest()[:32])


def load_token(directory: str, auth) -> Optional[str]:
    """Install the kept token into ``auth``; the token installed, or None when there is none to use.

    A file that cannot be read or parsed is as good as none: the module authenticates and writes a new one.
    """
    path = token_file(directory, auth)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            state = handle.read()
        token = json.loads(state)["auth_token"]
        auth.set_auth_state(state)  # installs the token only once the state parsed whole
        return token
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_token(directory: str, auth, loaded: Optional[str]) -> bool:
    """Write ``auth``'s token when it is not the one loaded; whether a file was written.

    OSError when the directory or the file cannot be written (the caller warns: the run goes on).
    """
    path = token_file(directory, auth)
    access = getattr(auth, "auth_ref", None)
    if path is None or access is None or access.auth_token == loaded:
        return False
    os.makedirs(directory, mode=0o700, exist_ok=True)
    # Written aside and renamed: module runs of the same batch may write at once, and none reads half a file.
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".token-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(auth.get_auth_state())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return True
