"""POST /v1/threads: create a thread and start its workflow."""

from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.models import CreateThreadRequest, ThreadOut
from threadline.api.route import RestApp, entry
from threadline.logic.create_thread import create_thread

app = RestApp(NATIVE)


@app.post("/v1/threads", status_code=201, summary="Create a thread")
def handle_create_thread(request: CreateThreadRequest) -> ThreadOut:
    """Create a thread of an agent type on a context; its workflow starts at once.
    The context must exist (`PUT /v1/contexts/...`): else 404 naming `business_id` or `context_id`."""
    thread = create_thread(
        app.tenant("write"),
        request.to_new_thread(),
        store=wiring.thread_store(),
        statuses=wiring.status_store(),
        runner=wiring.workflow_runner(),
        contexts=wiring.context_store(),
    )
    return ThreadOut.from_thread(thread)


lambda_handler = entry(app)
