"""What makes a wire dialect: where its paths live and how it words an error.

Free of pydantic and Powertools: the 405 function uses it with the route table alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ErrorBody = Callable[[str, str, "str | None"], dict[str, Any]]  # (code, message, parameter) → body


@dataclass(frozen=True)
class Dialect:
    """One wire dialect: the path prefix of its routes and its error shape."""

    path_prefix: str
    error_body: ErrorBody
    # The OpenAPI tag of every route of the dialect; None: the resource (``/v1/threads/...`` → threads).
    tag: str | None = None

    def tag_of(self, rule: str) -> str:
        """The OpenAPI tag of a route of this dialect."""
        return self.tag or rule.removeprefix(self.path_prefix).strip("/").split("/")[0]

    def owns(self, path: str) -> bool:
        """Whether ``path`` (a route or a resource, e.g. ``/thread/{thread_id}``) is of this dialect."""
        return path == self.path_prefix or path.startswith(self.path_prefix.rstrip("/") + "/")

    def error_json(self, code: str, message: str, parameter: str | None = None) -> str:
        """One error as this dialect's JSON body."""
        return json.dumps(self.error_body(code, message, parameter))

    def error_reply(
        self, status: int, code: str, message: str, parameter: str | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """One error as a Lambda proxy response (for what is answered before or without routing)."""
        return {
            "statusCode": status,
            "headers": {"Content-Type": "application/json", **(headers or {})},
            "body": self.error_json(code, message, parameter),
            "isBase64Encoded": False,
        }
