"""Lambda on moto without Docker: invoking a function created in moto runs the
template function's handler in-process, as the state machine's Lambda tasks
need (each invocation in an execution environment of its own, as the gateway's:
``threadline_tools.gateway.ENVIRONMENTS``); and the few moto gaps the workflow
meets, patched the same way.

moto's Lambda without Docker (``LambdaSimpleBackend``) only echoes its input;
the bridge replaces its ``invoke`` so that a function error looks as it does on
AWS (``FunctionError: Unhandled`` with ``errorType``/``errorMessage``), which
the ASL interpreter turns into the task error named after the exception.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from threadline_tools.gateway import ENVIRONMENTS
from threadline_tools.moto_dynamodb import patched_dynamodb

# moto function name → template logical id, for every bridged function
_FUNCTIONS: dict[str, str] = {}
_LOCK = threading.Lock()


class _Context:
    def __init__(self, function: Any) -> None:
        self.function_name = function.function_name
        self.invoked_function_arn = function.function_arn
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 512
        self.log_group_name = f"/aws/lambda/{function.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _invoke(
    self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> bytes:
    function = self.get_function(function_name, qualifier)
    logical_id = _FUNCTIONS.get(function.function_name)
    if logical_id is None:
        raise KeyError(f"no handler bridged for Lambda function {function.function_name}")
    event = json.loads(body) if body else {}
    try:
        result = ENVIRONMENTS.invoke(logical_id, event, _Context(function))
    except Exception as error:  # as Lambda reports an unhandled exception
        response_headers["x-amz-function-error"] = "Unhandled"
        result = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
    payload = json.dumps(result).encode()
    response_headers["Content-Length"] = str(len(payload))
    return payload


def _send_task_failure(self: Any) -> Any:
    # moto drops the cause of SendTaskFailure; keep it, as AWS does.
    from moto.core.responses import EmptyResult

    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _patched_stop(original: Any) -> Any:
    # moto leaves an execution stopped during a waitForTaskToken task RUNNING (or ends it
    # FAILED later); AWS reports it ABORTED at once, and the thread's reconciler relies on that.
    from moto.stepfunctions.parser.api import ExecutionStatus

    def stop(self: Any, stop_date: Any, error: Any, cause: Any) -> Any:
        self._threadline_stopped = True
        # A stop right after the start finds moto's worker without its environment yet
        # (AttributeError on None); wait for it briefly, as AWS would just stop it.
        worker = getattr(self, "exec_worker", None)
        deadline = time.monotonic() + 2
        while worker is not None and getattr(worker, "env", None) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        result = original(self, stop_date=stop_date, error=error, cause=cause)
        self.exec_status = ExecutionStatus.ABORTED
        self.stop_date = stop_date
        return result

    return stop


def _patched_reflect(original: Any) -> Any:
    from moto.stepfunctions.parser.api import ExecutionStatus

    def reflect(self: Any) -> None:
        original(self)
        if getattr(self.execution, "_threadline_stopped", False):
            self.execution.exec_status = ExecutionStatus.ABORTED
            self.execution.error = None
            self.execution.cause = None

    return reflect


def _error_name(error_name: Any = None) -> Any:
    # moto renames a States.* error (States.Timeout, say) coming out of a Map iteration
    # to States.Runtime; AWS keeps it, so a Catch on States.Timeout matches.
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName

    if isinstance(error_name, str) and error_name.startswith("States."):
        return StatesErrorName.from_name(error_name)
    return CustomErrorName(error_name=error_name)


_PARSE_TREES: dict[str, Any] = {}


def _parse(definition: str) -> tuple[Any, Any]:
    # moto parses the ASL again (ANTLR, ~0.5 s for this definition) for every execution.
    # The syntax tree is read-only, so it is parsed once per definition; the evaluation
    # components, which executions use, are still built afresh each time.
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    tree = _PARSE_TREES.get(definition)
    if tree is None:
        tree = _ORIGINAL_PARSE(definition)[1]
        with _LOCK:
            _PARSE_TREES[definition] = tree
    return Preprocessor().visit(tree), tree


_ORIGINAL_PARSE: Any = None
_CLIENTS: dict[tuple[Any, ...], Any] = {}
_STARTS = threading.Lock()


def _one_start_at_a_time(original: Any) -> Any:
    # moto looks for an execution of the same name, then adds the new one: two concurrent starts
    # of one name would both pass the look-up (Step Functions starts it once: the second start
    # returns the first execution, or fails ExecutionAlreadyExists). The rest of moto's Step
    # Functions interpreter is built for a concurrent server (it comes from LocalStack).
    def start_execution(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _STARTS:
            return original(self, *args, **kwargs)

    return start_execution


def _cached_client(original: Any) -> Any:
    # moto's interpreter builds a new boto3 client for every service-integration call
    # (about a tenth of a workflow's time here); clients are thread-safe, so reuse them.
    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.core.models import botocore_stubber
        from moto.settings import moto_server_port

        key = (region, service, botocore_stubber.enabled, moto_server_port())
        with _LOCK:
            if key not in _CLIENTS:
                _CLIENTS[key] = original(region, service, state_credentials)
            return _CLIENTS[key]

    return client_for


@contextmanager
def patched_moto() -> Iterator[None]:
    """While active: moto's Lambda runs bridged functions in-process, and the moto gaps
    above are patched. Enter it before creating the state machine (the parse cache
    serves ``create_state_machine`` too)."""
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend import execution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    global _ORIGINAL_PARSE
    if _ORIGINAL_PARSE is None:
        _ORIGINAL_PARSE = AmazonStateLanguageParser.parse
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_dynamodb,
    )

    communication = execution.BaseExecutionWorkerCommunication
    with ExitStack() as stack:
        stack.enter_context(patched_dynamodb())
        for module in (lambda_eval_utils, state_task_service_dynamodb, state_task_service_aws_sdk):
            stack.enter_context(mock.patch.object(module, "boto_client_for", _cached_client(module.boto_client_for)))
        stack.enter_context(mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(_parse)))
        stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", _invoke))
        stack.enter_context(mock.patch.object(StepFunctionResponse, "send_task_failure", _send_task_failure))
        stack.enter_context(
            mock.patch.object(
                StepFunctionsParserBackend,
                "start_execution",
                _one_start_at_a_time(StepFunctionsParserBackend.start_execution),
            )
        )
        stack.enter_context(mock.patch.object(iteration_worker, "CustomErrorName", _error_name))
        stack.enter_context(mock.patch.object(execution.Execution, "stop", _patched_stop(execution.Execution.stop)))
        stack.enter_context(
            mock.patch.object(
                communication, "_reflect_execution_status", _patched_reflect(communication._reflect_execution_status)
            )
        )
        try:
            yield
        finally:
            _CLIENTS.clear()  # they belong to this emulation


@contextmanager
def bridged(functions: dict[str, str]) -> Iterator[None]:
    """Run ``functions`` (moto function name → template logical id) in-process while active
    (``patched_moto`` must be active too)."""
    with _LOCK:
        _FUNCTIONS.update(functions)
    try:
        yield
    finally:
        with _LOCK:
            for name in functions:
                _FUNCTIONS.pop(name, None)
