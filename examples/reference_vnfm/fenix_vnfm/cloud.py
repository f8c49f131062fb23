# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""The VNFM's own view of the cloud: its Keystone token, the catalog, its servers (openstacksdk)."""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional


class Cloud:
    """The project's cloud, through openstacksdk with the project's credentials."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.lock = threading.Lock()  # one connection, several handler threads

    @classmethod
    def connect(cls, cloud: str) -> "Cloud":
        import openstack  # imported here so that the notification logic needs no SDK
        return cls(openstack.connect(cloud=cloud))

    @property
    def project_id(self) -> str:
        return self.conn.current_project_id

    def token(self, fresh: bool = False) -> str:
        with self.lock:
            if fresh:
                self.conn.session.invalidate()
            return self.conn.session.get_token()

    def endpoint(self, service_type: str) -> Optional[str]:
        with self.lock:
            try:
                return self.conn.endpoint_for(service_type)
            except Exception:  # pylint: disable=broad-except
                return None  # keystoneauth raises when the catalog lacks it

    def my_server_ids(self) -> List[str]:
        with self.lock:
            return sorted(server.id for server in self.conn.compute.servers())

    # Up to this many servers are read one by one; more, and one list of the project's servers answers for them.
    READ_ONE_BY_ONE = 2

    def statuses(self, server_ids: List[str]) -> Dict[str, str]:
        """Each server's status ("NOT_FOUND" when it is gone): a request per server only for a few of them."""
        with self.lock:
            if len(server_ids) <= self.READ_ONE_BY_ONE:
                servers = [self.conn.compute.find_server(server_id, ignore_missing=True) for server_id in server_ids]
                listed = {server.id: server.status for server in servers if server is not None}
            else:
                listed = {server.id: server.status for server in self.conn.compute.servers()}
        return {server_id: listed.get(server_id, "NOT_FOUND") for server_id in server_ids}

    def delete_servers(self, count: int, keep: List[str], timeout: float = 120.0) -> List[str]:
        """Delete ``count`` of our servers (the newest first, never those in ``keep``); wait until they are gone."""
        with self.lock:
            servers = sorted(self.conn.compute.servers(), key=lambda server: server.created_at or "", reverse=True)
            chosen = [server for server in servers if server.id not in keep][:count]
            for server in chosen:
                self.conn.compute.delete_server(server)
            for server in chosen:
                self.conn.compute.wait_for_delete(server, wait=timeout)
        return [server.id for server in chosen]

    def server_group(self, name: str) -> Dict[str, Any]:
        """{id, name, policy, members, names} of the Nova server group called (or with the id) ``name``."""
        with self.lock:
            for group in self.conn.compute.server_groups():
                if group.name == name or group.id == name:
                    policy = getattr(group, "policy", None) or (list(getattr(group, "policies", None) or []) or [None])[0]
                    members = list(group.member_ids or [])
                    names = {server_id: self.conn.compute.get_server(server_id).name for server_id in members}
                    return {"id": group.id, "name": group.name, "policy": policy, "members": members, "names": names}
        raise LookupError("no server group %r in project %s" % (name, self.project_id))
