"""POST /v1/runs: start a run, on an existing thread or on a new one."""

from aws_lambda_powertools.event_handler import Response
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.models import CreateRunRequest, RunOut
from threadline.api.route import IDEMPOTENT_RESPONSES, IdempotencyKey, RestApp, entry
from threadline.logic.runs import create_run

app = RestApp(NATIVE)


@app.post(
    "/v1/runs",
    status_code=201,
    summary="Start a run",
    responses={
        **IDEMPOTENT_RESPONSES,
        409: {
            "description": "Another run of the thread is still active, or a request with this Idempotency-Key"
            " is still in progress (Retry-After)."
        },
    },
)
def handle_create_run(
    request: CreateRunRequest,
    idempotency_key: IdempotencyKey = None,  # honoured by the entry point, before this runs
) -> Response[RunOut]:
    """Start a run of an agent type: on the caller's thread `thread_id` (which must have no active
    run: else 409), or on a new thread made from `business_id` or `context_type`+`context_id` as
    `POST /v1/threads` makes one. Its workflow starts at once. With `Idempotency-Key`, a retry
    answers the first response and starts nothing."""
    run = create_run(
        app.tenant("write"),
        request.to_new_run(),
        store=wiring.thread_store(),
        statuses=wiring.status_store(),
        runner=wiring.workflow_runner(),
        contexts=wiring.context_store(),
        runs=wiring.run_store(),
        workflow_type=wiring.workflow_type(),
    )
    return Response(status_code=201, content_type="application/json", body=RunOut.from_run(run))


lambda_handler = entry(app, idempotency=wiring.idempotent_replies)
