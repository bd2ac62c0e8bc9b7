"""The native dialect (``/v1``, Middesk-compatible): its error wording here, its request and
response models in ``.models`` (threads, steps), ``.contexts`` and ``.agents``, its list query
in ``.query``.

Errors: ``{"errors": [{"code", "message", "parameter"}]}``.
"""

from __future__ import annotations

from typing import Any

from threadline.api.dialect import Dialect


def _error_body(code: str, message: str, parameter: str | None) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "parameter": parameter}]}


NATIVE = Dialect(path_prefix="/v1", error_body=_error_body)
