"""POST /v1/threads/{id}/steps/{step_id}/resolve: a human's decision on a waiting step."""

from aws_lambda_powertools.event_handler import Response
from threadline import wiring
from threadline.api.etag import thread_reply
from threadline.api.native import NATIVE
from threadline.api.native.models import ResolveStepRequest, ThreadOut
from threadline.api.route import RestApp, entry
from threadline.logic.resolve_step import resolve_step

app = RestApp(NATIVE)


@app.post(
    "/v1/threads/<thread_id>/steps/<step_id>/resolve",
    summary="Resolve a waiting step",
    responses={409: {"description": "The step is not waiting for a decision, or its thread no longer runs."}},
)
def handle_resolve_step(thread_id: str, step_id: str, request: ResolveStepRequest) -> Response[ThreadOut]:
    """Give a waiting interrupt step its decision; the workflow resumes. 404 when the thread has
    no such step, 409 when the step is not waiting."""
    thread = resolve_step(
        app.tenant("write"),
        thread_id,
        step_id,
        request.to_decision(),
        store=wiring.thread_store(),
        steps=wiring.step_store(),
        runner=wiring.workflow_runner(),
    )
    return thread_reply(ThreadOut.from_thread(thread), thread.version)


lambda_handler = entry(app)
