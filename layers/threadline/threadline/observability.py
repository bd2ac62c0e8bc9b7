"""Traces and metrics (docs/operations.md, "Traces and metrics").

**Traces.** With X-Ray active tracing (the template's ``EnableTracing``), a handler wrapped by
:func:`traced` runs in a Powertools Tracer subsegment, its AWS calls are subsegments of their own,
and the request's correlation id is an annotation (:func:`correlate`). The tracer is made at the
first invocation that is traced, never at import: the X-Ray SDK costs ~60 ms that a function's
cold start would otherwise pay before it serves, traced or not. Responses are never captured
(they hold ``user_data``).

**Metrics.** :func:`count` and :func:`measure` write one CloudWatch metric in embedded metric
format: a log line, no API call. The namespace is ``Threadline``; the ``service`` dimension
is Powertools' service name (``POWERTOOLS_SERVICE_NAME``: the stack's name, so stacks differ);
the other dimensions are named in :data:`DIMENSIONS` and have a bounded set of values (an
agent type, a status, a reason): never an org, a thread or any id.
"""

from __future__ import annotations

import functools
import logging
import os
import random
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = TypeVar("Handler", bound=Callable[[Any, Any], Any])

# SnapStart: every environment restored from one snapshot holds the state the import left, the
# random module's shared generator included (botocore's retry jitter draws from it): it is seeded
# again after each restore. The hook library is part of Lambda's Python runtimes only.
try:
    from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
except ImportError:
    pass
else:
    register_after_restore(random.seed)

NAMESPACE = "Threadline"
# The id that ties a request's logs, trace and workflow execution together: API Gateway's request
# id, carried into the execution's input (``RunRef.correlation_id``) and so to its agent function.
_CORRELATION_ID: ContextVar[str | None] = ContextVar("correlation_id", default=None)

MetricName = Literal[
    "ThreadsCreated",  # a thread created (agent_type)
    "RunsFinished",  # a run ended (agent_type, status: completed | error | cancelled)
    "StepDuration",  # milliseconds from a step's start to its end (agent)
    "InterruptsRaised",  # a run waits for a person (agent_type)
    "InterruptsResolved",  # a person answered it (agent_type)
    "AuthorizerDenials",  # an API key refused (reason: malformed | unknown | revoked)
    "Throttled",  # a request answered 503 as an AWS call was throttled (operation)
    "IdempotentReplays",  # a request answered again from its Idempotency-Key
]
# The only dimensions a metric may have besides ``service``: each has few values.
DIMENSIONS = frozenset({"agent_type", "agent", "status", "reason", "operation"})


def count(name: MetricName, **dimensions: str) -> None:
    """One occurrence of ``name``."""
    _emit(name, "Count", 1, dimensions)


def measure(name: MetricName, milliseconds: float, **dimensions: str) -> None:
    """A duration of ``name``."""
    _emit(name, "Milliseconds", milliseconds, dimensions)


def _emit(name: MetricName, unit: str, value: float, dimensions: dict[str, str]) -> None:
    unknown = set(dimensions) - DIMENSIONS
    if unknown:
        raise ValueError(f"unbounded metric dimensions: {sorted(unknown)}")
    from aws_lambda_powertools.metrics import EphemeralMetrics

    try:  # a metric is never worth a failed request or a retried batch
        metrics = EphemeralMetrics(namespace=NAMESPACE)  # a metric of its own: each has its own dimensions
        for dimension, dimension_value in sorted(dimensions.items()):
            metrics.add_dimension(dimension, dimension_value or "none")
        metrics.add_metric(name=name, unit=unit, value=value)
        metrics.flush_metrics()
    except Exception as error:
        logging.getLogger("threadline").warning(
            "a metric was not written", extra={"metric": name, "error_type": type(error).__name__}
        )


def tracing() -> bool:
    """Whether this process is traced: on Lambda (not an emulator), unless tracing is off."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true")
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL") and not disabled


@functools.cache
def _tracer() -> Tracer | None:
    if not tracing():
        return None
    from aws_lambda_powertools import Tracer

    tracer = Tracer(auto_patch=False)
    tracer.patch(["botocore"])  # the only AWS client library in the layer
    return tracer


def traced(handler: Handler) -> Handler:
    """``handler`` in a subsegment of its invocation's trace (when traced), without its response."""
    wrapped: list[Callable[[Any, Any], Any]] = []

    @functools.wraps(handler)
    def lambda_handler(event: Any, context: Any) -> Any:
        if not wrapped:
            tracer = _tracer()
            # Neither the response (user_data) nor the error's message as metadata (the X-Ray SDK
            # still records an escaping exception's type and message as the subsegment's cause).
            capture = {"capture_response": False, "capture_error": False}
            wrapped.append(tracer.capture_lambda_handler(handler, **capture) if tracer else handler)
        return wrapped[0](event, context)

    return lambda_handler  # type: ignore[return-value]


def correlate(correlation_id: str | None) -> None:
    """The current invocation's correlation id (None: it has none), annotated on its trace
    (searchable in X-Ray: ``annotation.correlation_id = "…"``)."""
    _CORRELATION_ID.set(correlation_id)
    tracer = _tracer()
    if tracer is not None and correlation_id:
        tracer.put_annotation("correlation_id", correlation_id)


def correlation_id() -> str | None:
    """The current invocation's correlation id, if it has one."""
    return _CORRELATION_ID.get()
