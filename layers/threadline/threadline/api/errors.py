"""Errors to HTTP, in one place: domain errors to statuses, Powertools' validation errors to
domain errors naming the parameter (and their messages), each answered in the route's
dialect's body shape (``api.native`` / ``api.agentuity``)."""

from __future__ import annotations

import traceback

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from threadline import errors, faults, observability
from threadline.api.dialect import Dialect

logger = Logger(service="threadline")


_STATUS: dict[type[errors.ThreadlineError], int] = {
    errors.InvalidParameterError: 400,
    errors.InvalidJsonError: 400,
    errors.UnauthorizedError: 401,
    errors.ForbiddenError: 403,
    errors.NotFoundError: 404,
    errors.ConflictError: 409,
    errors.PreconditionFailedError: 412,
    errors.PayloadTooLargeError: 413,
    errors.UndecryptableError: 500,
    errors.ServiceUnavailableError: 503,
    errors.WorkflowStartError: 503,
}


def error_response(
    dialect: Dialect,
    status: int,
    code: str,
    message: str,
    parameter: str | None = None,
    retry_after: int | None = None,
) -> Response[str]:
    """One error as a response of ``dialect``; with ``retry_after``, a ``Retry-After`` header (seconds)."""
    return Response(
        status_code=status,
        content_type="application/json",
        body=dialect.error_json(code, message, parameter),
        headers={"Retry-After": str(retry_after)} if retry_after is not None else None,
    )


def domain_error_response(dialect: Dialect, error: errors.ThreadlineError) -> Response[str]:
    """A domain error as a response of ``dialect``."""
    status = next(s for cls, s in _STATUS.items() if isinstance(error, cls))
    return error_response(dialect, status, error.code, error.message, error.parameter, error.retry_after)


def validation_error(error: RequestValidationError) -> errors.ThreadlineError:
    """The first problem of a Powertools validation error, as a domain error naming the parameter."""
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ())]
    kind = first.get("type", "")
    if kind == "json_invalid":
        return errors.InvalidJsonError("Request body is not valid JSON")
    parameter = ".".join(location[1:]) or (location[0] if location else None)
    if location[:1] == ["body"] and len(location) == 1:
        parameter = None
    return errors.InvalidParameterError(_message(kind, parameter, first.get("msg", "is invalid")), parameter)


def _message(kind: str, parameter: str | None, detail: str) -> str:
    if parameter is None:
        if kind == "missing":
            return "Request body is required"
        return f"Request body is invalid: {_clean(detail)}"
    if kind == "extra_forbidden":
        return f"{parameter} is not a known parameter"
    if kind == "missing":
        return f"{parameter} is required"
    detail = _clean(detail)
    # Our own validators already name the field ("metadata may have at most 32 keys").
    return detail if detail.startswith(parameter.split(".")[0]) else f"{parameter}: {detail}"


def _clean(detail: str) -> str:
    # pydantic prefixes messages of our own validators with "Value error, ".
    return detail.removeprefix("Value error, ")


def register_error_handlers(app: APIGatewayRestResolver, dialect: Dialect) -> None:
    """Map every exception a route can raise to a response of ``dialect``."""

    @app.exception_handler(errors.ThreadlineError)
    def _domain(error: errors.ThreadlineError) -> Response[str]:
        return domain_error_response(dialect, error)

    @app.exception_handler(RequestValidationError)
    def _validation(error: RequestValidationError) -> Response[str]:
        return domain_error_response(dialect, validation_error(error))

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return error_response(dialect, 404, "not_found", "No such route")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        fault = faults.unavailable(error)
        if fault is not None:  # throttled, unavailable, timed out: a retry may succeed (503, Retry-After)
            logger.warning("a service is unavailable", extra=faults.describe(error))
            count_throttle(error)
            return domain_error_response(dialect, fault)
        # Type and frames, not the message: messages (pydantic's, say) may quote request data.
        logger.error(
            "unhandled error",
            extra={"error_type": type(error).__name__, "frames": traceback.format_tb(error.__traceback__)},
        )
        return error_response(dialect, 500, "internal_error", "Internal server error")


def count_throttle(error: BaseException) -> None:
    """A request answered 503 as an AWS call was throttled: counted by the call (the operation
    names the service: ``TransactWriteItems``, ``StartExecution``, ``GenerateDataKey``...)."""
    if faults.throttled(error):
        observability.count("Throttled", operation=str(getattr(error, "operation_name", "") or "unknown"))
