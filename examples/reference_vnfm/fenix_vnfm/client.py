# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""The VNFM's HTTP calls to the maintenance API: the instance list, the answers, the constraints."""

from __future__ import annotations

import json
import socket
import time
from typing import Any, Callable, List, Optional, Tuple, TypedDict
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen


class ApiResult(TypedDict):
    status: Optional[int]  # None when no HTTP answer came (network error)
    body: Any
    attempts: int
    error: Optional[str]  # None exactly when the status is 200


class ApiError(RuntimeError):
    """A request the API did not answer with 200, after the retries."""


def worth_retrying(status: Optional[int]) -> bool:
    """Network errors, 5xx, 408 and 429 may pass later; 401 passes with a new token; other 4xx never will."""
    return status is None or status >= 500 or status in (401, 408, 429)


class MaintenanceApi:
    """Plain HTTP with the project's Keystone token in X-Auth-Token; JSON in and out.

    ``token(fresh)`` gives the token, a new one when ``fresh`` (after a 401).
    Requests are retried with exponential backoff while worth it, at most
    ``retries`` times: Fenix clients retry until 200, but a VNFM that retries
    forever hides a broken setup.
    """

    def __init__(self, token: Callable[[bool], str], retries: int = 5, retry_delay: float = 1.0,
                 timeout: float = 10.0, opener: Callable = urlopen,
                 sleep: Callable[[float], Any] = time.sleep) -> None:
        self.token = token
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.opener = opener
        self.sleep = sleep

    def get_instance_ids(self, url: str) -> List[str]:
        """GET the project's instance list (the instance_ids URL of a notification)."""
        result = self.call("GET", url)
        if result["error"]:
            raise ApiError("GET %s failed after %d attempts: %s" % (url, result["attempts"], result["error"]))
        return list((result["body"] or {}).get("instance_ids") or [])

    def put(self, url: str, body: dict, retries: Optional[int] = None) -> ApiResult:
        """PUT an answer or a constraint; the caller decides what a failure means."""
        return self.call("PUT", url, body, retries)

    def call(self, method: str, url: str, body: Optional[dict] = None, retries: Optional[int] = None) -> ApiResult:
        """{status, body, attempts, error}; error is None exactly when the status is 200.

        ``retries``: this call's, instead of the client's.
        """
        retries = self.retries if retries is None else retries
        attempt, fresh = 0, False
        while True:
            attempt += 1
            status, answer, error = self._once(method, url, body, self.token(fresh))
            fresh = status == 401
            if status == 200 or not worth_retrying(status) or attempt > retries:
                return {"status": status, "body": answer, "attempts": attempt, "error": error}
            self.sleep(self.retry_delay * (2 ** (attempt - 1)))

    def _once(self, method: str, url: str, body: Optional[dict], token: str) -> Tuple[Optional[int], Any, Optional[str]]:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = Request(url, data=data, method=method, headers={
            "X-Auth-Token": token, "Content-Type": "application/json", "Accept": "application/json"})
        try:
            with self.opener(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (URLError, socket.timeout, OSError) as exc:
            return None, None, str(getattr(exc, "reason", exc))
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode("utf-8", "replace")
        if status == 200:
            return status, answer, None
        message = answer.get("error", {}).get("message") if isinstance(answer, dict) else None
        return status, answer, "HTTP %d%s" % (status, ": " + message if message else "")
