"""``Idempotency-Key`` on the creating routes, with Powertools' idempotency utility on DynamoDB.

A request with the header is recorded under the tenant (org, and project for a restricted
key) and the key. For 24 hours:

* the same key and the same request (method, path and JSON body) gets the first response
  again, with ``Idempotent-Replayed: true``, and runs nothing;
* the same key with another request is a 422;
* the same key while the first request still runs is a 409 with ``Retry-After``.

Only a success (2xx) is recorded: an error changed nothing, so the request may simply be
retried with the same key. (A success whose response cannot be sealed, KMS being unavailable,
is answered but not recorded.) A failure of the record itself is a 503 when a retry may cure
it (``threadline.faults``). Keys of different tenants never meet. The recorded response holds
the thread's ``user_data``: it is sealed with the ``user_data`` key (``store.crypto``) before
it is stored, and bound to its record. The table's TTL removes records after 24 hours.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from threadline import faults, observability
from threadline.api.dialect import Dialect
from threadline.api.errors import count_throttle
from threadline.api.route import IDEMPOTENCY_HEADER

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from threadline.store.crypto import UserDataCipher

REPLAYED_HEADER = "Idempotent-Replayed"
EXPIRES_AFTER_SECONDS = 24 * 60 * 60
RETRY_AFTER_SECONDS = 1
logger = Logger(service="threadline")
_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, as Stripe's keys


class _NotRecordedError(Exception):
    """An error response: answered, not recorded (Powertools deletes the record)."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__("not recorded")
        self.response = response


class IdempotentReplies:
    """Runs a creating request at most once per tenant and ``Idempotency-Key``."""

    def __init__(self, persistence: BasePersistenceLayer, cipher: UserDataCipher) -> None:
        self._cipher = cipher
        self._config = IdempotencyConfig(
            event_key_jmespath="scope",
            payload_validation_jmespath="request",
            expires_after_seconds=EXPIRES_AFTER_SECONDS,
            hash_function="sha256",
            response_hook=_replayed,
        )
        self._recorded = idempotent_function(
            self._run,
            data_keyword_argument="call",
            persistence_store=persistence,
            config=self._config,
            key_prefix="idempotency",
        )

    def answer(
        self, event: dict[str, Any], context: LambdaContext, dialect: Dialect, resolve: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """The response to ``event``: ``resolve()``'s, or the one recorded under its key."""
        key = header(event, IDEMPOTENCY_HEADER)
        authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
        if key is None or "write" not in str(authorizer.get("scopes", "")).split(","):
            return resolve()  # (a key that may not write gets the route's own 403, recorded nowhere)
        if not _KEY_PATTERN.match(key):
            return dialect.error_reply(
                400,
                "invalid_parameter",
                f"{IDEMPOTENCY_HEADER} must be 1-255 printable ASCII characters",
                IDEMPOTENCY_HEADER,
            )
        scope = [str(authorizer.get("org_id", "")), str(authorizer.get("project_id") or "*"), key]
        request = [event.get("httpMethod"), event.get("path"), _canonical_body(event.get("body"))]
        self._config.register_lambda_context(context)
        produced: list[dict[str, Any]] = []  # this request's own response, once resolve() ran
        try:
            sealed = self._recorded(call={"scope": scope, "request": request}, resolve=resolve, produced=produced)
        except _NotRecordedError as error:
            return error.response
        except IdempotencyValidationError:
            return dialect.error_reply(
                422,
                "idempotency_key_reused",
                f"This {IDEMPOTENCY_HEADER} was used with another request: use a new key for a new request",
                IDEMPOTENCY_HEADER,
            )
        except IdempotencyAlreadyInProgressError:
            return dialect.error_reply(
                409,
                "idempotency_in_progress",
                f"A request with this {IDEMPOTENCY_HEADER} is still in progress: retry shortly",
                IDEMPOTENCY_HEADER,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as error:
            cause = error.__cause__ or error
            logger.warning("the idempotency record failed", extra=faults.describe(cause))
            if produced:
                # What was done is done: answer it (an error would invite a retry that does it again)
                return produced[0]
            return _failure(dialect, cause)
        if produced:
            return produced[0]
        try:
            return self._open(scope, sealed)
        except Exception as error:
            logger.error("a recorded response could not be opened", extra=faults.describe(error))
            return _failure(dialect, error)

    def _run(
        self, call: dict[str, Any], resolve: Callable[[], dict[str, Any]], produced: list[dict[str, Any]]
    ) -> dict[str, Any]:
        response = resolve()
        if not 200 <= int(response.get("statusCode", 500)) < 300:
            raise _NotRecordedError(response)
        produced.append(response)
        # Compact and compressed: a response holds up to 256 KB of user_data, a record 400 KB.
        text = json.dumps(response, separators=(",", ":"), ensure_ascii=False).encode()
        org_id, record = call["scope"][0], _record_name(call["scope"])
        try:
            sealed = self._cipher.encrypt(org_id, record, zlib.compress(text, 9))
        except Exception as error:
            # What was done is done: answer it (a 503 would invite a retry that does it again).
            logger.warning("a response could not be sealed; answered, not recorded", extra=faults.describe(error))
            raise _NotRecordedError(response) from error
        return {"sealed": base64.b64encode(sealed).decode()}

    def _open(self, scope: list[str], sealed: dict[str, Any]) -> dict[str, Any]:
        compressed = self._cipher.decrypt_bytes(scope[0], _record_name(scope), base64.b64decode(sealed["sealed"]))
        response: dict[str, Any] = json.loads(zlib.decompress(compressed))
        if sealed.get("replayed"):
            observability.count("IdempotentReplays")
            for field in ("headers", "multiValueHeaders"):
                if isinstance(response.get(field), dict):
                    value = "true"
                    response[field][REPLAYED_HEADER] = [value] if field == "multiValueHeaders" else value
        return response


def _failure(dialect: Dialect, error: BaseException) -> dict[str, Any]:
    """A 503 with Retry-After when a retry may cure ``error``, else a 500."""
    fault = faults.unavailable(error)
    if fault is None:
        return dialect.error_reply(500, "internal_error", "Internal server error")
    count_throttle(error)
    retry = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
    return dialect.error_reply(503, fault.code, fault.message, headers=retry)


def header(event: dict[str, Any], name: str) -> str | None:
    """A request header's value, whatever its case (API Gateway passes names as sent)."""
    wanted = name.lower()
    for given, value in (event.get("headers") or {}).items():
        if given.lower() == wanted and isinstance(value, str):
            return value
    return None


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools' hook on a recorded response: marks it as replayed."""
    return {**response, "replayed": True}


def _canonical_body(body: str | None) -> Any:
    """The body as JSON (so whitespace and key order do not make another request)."""
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body


def _record_name(scope: list[str]) -> str:
    """What a sealed response is bound to (its AAD): its tenant and key, hashed."""
    return "idempotency/" + hashlib.sha256(json.dumps(scope).encode()).hexdigest()
