"""Thread versions on the wire. Every response of one thread carries ``ETag: "<version>"``
(the thread's version, which every change of the thread or its steps moves on); a PATCH may
name the version it saw with ``If-Match`` and gets a 412 when the thread moved on since."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from threadline.errors import InvalidParameterError

IF_MATCH = "If-Match"
_ENTITY_TAG = re.compile(r'^(W/)?"([^"]*)"$')


def etag(version: int) -> str:
    """The entity tag of a thread at ``version`` (strong: a version is one representation)."""
    return f'"{version}"'


def thread_reply(body: BaseModel, version: int, status_code: int = 200) -> Response[Any]:
    """A response of one thread, tagged with its version."""
    return Response(
        status_code=status_code, content_type="application/json", body=body, headers={"ETag": etag(version)}
    )


def expected_versions(if_match: str | None) -> frozenset[int] | None:
    """The versions an ``If-Match`` header names (one entity tag or a comma-separated list);
    None when absent or ``*`` (any version).

    Weak tags never match (``If-Match`` compares strongly), nor do tags that are no version of
    ours: named by none, the change is a 412. A value that is not entity tags at all is a 400."""
    if if_match is None or if_match.strip() == "*":
        return None
    versions = set()
    for part in if_match.split(","):
        found = _ENTITY_TAG.match(part.strip())
        if found is None:
            raise InvalidParameterError('If-Match must be entity tags from ETag, e.g. "3"', IF_MATCH)
        weak, tag = found.groups()
        if not weak and tag.isdigit() and len(tag) <= 18:
            versions.add(int(tag))
    return frozenset(versions)
