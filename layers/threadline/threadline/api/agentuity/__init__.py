"""The Agentuity dialect (``/thread``, the Agentuity Threads API and SDK): its error wording
here, its response models in ``.models``, its list query in ``.query``.

Errors: ``{"success": false, "message", "code"}``.
"""

from __future__ import annotations

from typing import Any

from threadline.api.dialect import Dialect


def _error_body(code: str, message: str, parameter: str | None) -> dict[str, Any]:
    return {"success": False, "message": message, "code": code}


AGENTUITY = Dialect(path_prefix="/thread", error_body=_error_body, tag="agentuity")
