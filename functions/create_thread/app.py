"""POST /v1/threads: create a thread and start its workflow."""

from aws_lambda_powertools.event_handler import Response
from threadline import wiring
from threadline.api.etag import thread_reply
from threadline.api.native import NATIVE
from threadline.api.native.models import CreateThreadRequest, ThreadOut
from threadline.api.route import IDEMPOTENT_RESPONSES, IdempotencyKey, RestApp, entry
from threadline.logic.create_thread import create_thread

app = RestApp(NATIVE)


@app.post("/v1/threads", status_code=201, summary="Create a thread", responses=IDEMPOTENT_RESPONSES)
def handle_create_thread(
    request: CreateThreadRequest,
    idempotency_key: IdempotencyKey = None,  # honoured by the entry point, before this runs
) -> Response[ThreadOut]:
    """Create a thread of an agent type on a context; its workflow starts at once.
    The context must exist (`PUT /v1/contexts/...`): else 404 naming `business_id` or `context_id`.
    With `Idempotency-Key`, a retry answers the first response and starts nothing."""
    thread = create_thread(
        app.tenant("write"),
        request.to_new_thread(),
        store=wiring.thread_store(),
        statuses=wiring.status_store(),
        runner=wiring.workflow_runner(),
        contexts=wiring.context_store(),
        workflow_type=wiring.workflow_type(),
    )
    return thread_reply(ThreadOut.from_thread(thread), thread.version, status_code=201)


lambda_handler = entry(app, idempotency=wiring.idempotent_replies)
