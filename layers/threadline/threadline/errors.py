"""Domain exceptions. The API layer maps them to HTTP in one place (``api.errors``)."""

from __future__ import annotations


class ThreadlineError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "error"

    def __init__(self, message: str, parameter: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        # Seconds after which the same request may succeed (answered as Retry-After); None: not by retrying.
        self.retry_after = retry_after


class InvalidParameterError(ThreadlineError):
    """A request value is missing, malformed, unknown or out of range."""

    code = "invalid_parameter"


class InvalidJsonError(ThreadlineError):
    """The request body is not valid JSON."""

    code = "invalid_json"


class PayloadTooLargeError(ThreadlineError):
    """The request body (or one field of it) is larger than allowed."""

    code = "payload_too_large"


class NotFoundError(ThreadlineError):
    """The resource does not exist, is deleted, or belongs to another tenant."""

    code = "not_found"


class ForbiddenError(ThreadlineError):
    """The API key lacks the scope (or project) the operation needs."""

    code = "forbidden"


class UnauthorizedError(ThreadlineError):
    """No usable API key."""

    code = "unauthorized"


class ConflictError(ThreadlineError):
    """The resource is in a state that does not allow the operation."""

    code = "conflict"


class ServiceUnavailableError(ThreadlineError):
    """A service the request depends on is throttling, failing or too slow (``threadline.faults``):
    the same request may succeed after ``retry_after`` seconds."""

    code = "service_unavailable"


class WorkflowStartError(ThreadlineError):
    """The workflow of a new thread could not be started."""

    code = "workflow_start_failed"


class PreconditionFailedError(ThreadlineError):
    """The resource changed since the version the caller named (``If-Match``)."""

    code = "precondition_failed"


class UndecryptableError(ThreadlineError):
    """A stored ``user_data`` cannot be decrypted (corrupt, or sealed for another thread): the
    server's fault, not the caller's."""

    code = "user_data_undecryptable"
