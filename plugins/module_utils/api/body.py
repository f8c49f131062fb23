# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""Request bodies: read within a size limit, parsed as JSON, checked against the operation's schema.

Every way a body can be wrong is a 4xx that names the problem, never a 5xx:
413 above the size limit (refused on the declared Content-Length before any
byte is read, and a chunked body is read no further than the limit), 400 for
what is not JSON, nests deeper than MAX_DEPTH, holds a string that is not
Unicode, or does not fit the schema. The depth and Unicode checks keep out
what JSON allows but the journal and the answers could not store or render.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO, Dict, Iterator, Optional, Tuple

try:
    import jsonschema
    HAS_JSONSCHEMA = True
except ImportError:
    HAS_JSONSCHEMA = False  # app.build says which libraries the API needs

DEFAULT_MAX_BODY = 1024 * 1024  # bytes; FENIX_API_MAX_BODY
MAX_BODY_VARIABLE = "FENIX_API_MAX_BODY"
MAX_DEPTH = 32  # nested objects and arrays, the body itself included
_READ_SIZE = 64 * 1024
_MESSAGE_LENGTH = 300  # of one schema problem: jsonschema quotes the offending value whole


class BodyError(Exception):
    """A body the API refuses: its HTTP status and what is wrong."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_max_body(value: Optional[str]) -> int:
    """The size limit from its environment variable (bytes, a positive integer)."""
    if value is None or value == "":
        return DEFAULT_MAX_BODY
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError("%s: %r is not a positive number of bytes" % (MAX_BODY_VARIABLE, value))
    return limit


def refuse_declared_size(content_length: Optional[int], limit: int) -> None:
    """413 on the Content-Length alone, so an oversized body is never read."""
    if content_length is not None and content_length > limit:
        raise BodyError(413, _too_large("Content-Length %d is above" % content_length, limit))


def read_body(stream: BinaryIO, limit: int) -> bytes:
    """At most limit + 1 bytes of the stream: one byte past the limit is enough to refuse the body."""
    parts = []
    size = 0
    while size <= limit:
        part = stream.read(min(_READ_SIZE, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        raise BodyError(413, _too_large("longer than", limit))
    return b"".join(parts)


def _too_large(what: str, limit: int) -> str:
    return "body: %s the limit of %d bytes (%s)" % (what, limit, MAX_BODY_VARIABLE)


def parse_body(raw: bytes, schema: dict) -> Dict[str, Any]:
    """The body as JSON that fits the schema, or a 400 naming what does not."""
    if not raw.strip():
        raise BodyError(400, "body: missing; send a JSON object")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise BodyError(400, _too_deep())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(400, "body: not JSON (%s)" % exc)
    _check_depth_and_strings(body)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(body), key=lambda error: list(error.path))
    if errors:
        raise BodyError(400, "; ".join(_describe(error) for error in errors[:5]))
    return body


def _refuse_constant(name: str) -> float:
    raise ValueError("%s is not a JSON number" % name)


def _too_deep() -> str:
    return "body: nested deeper than %d levels of objects and arrays" % MAX_DEPTH


def _check_depth_and_strings(body: Any) -> None:
    # A loop, not recursion: the body is checked before anything recurses into it.
    pending = [(body, 1, ())]
    while pending:
        value, depth, where = pending.pop()
        if isinstance(value, str):
            _check_string(value, where)
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise BodyError(400, _too_deep())
            for key, item in _members(value):
                if isinstance(key, str):
                    _check_string(key, where, "a member name")
                pending.append((item, depth + 1, where + (key,)))


def _members(value) -> Iterator[Tuple[Any, Any]]:
    return iter(value.items()) if isinstance(value, dict) else enumerate(value)


def _check_string(value: str, where: tuple, what: str = "the string") -> None:
    # The message names where, never the string: the answer could not carry it either.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BodyError(400, "%s: %s is not valid Unicode (a lone surrogate such as \\ud800)" % (_where(where), what))


def _where(path) -> str:
    return ".".join(str(part) for part in path) or "body"


def _describe(error) -> str:
    message = "%s: %s" % (_where(error.path), error.message)
    return message if len(message) <= _MESSAGE_LENGTH else message[:_MESSAGE_LENGTH - 3] + "..."
