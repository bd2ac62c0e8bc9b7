"""POST /v1/runs/{id}/feedback: rate one of a run's steps or artifacts."""

from aws_lambda_powertools.event_handler import Response
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.models import FeedbackOut, RunFeedbackRequest
from threadline.api.route import RestApp, entry
from threadline.logic.runs import give_feedback

app = RestApp(NATIVE)


@app.post("/v1/runs/<run_id>/feedback", status_code=201, summary="Rate a run's work")
def handle_run_feedback(run_id: str, request: RunFeedbackRequest) -> Response[FeedbackOut]:
    """Rate one of the run's steps (`step_id`) or its artifacts of one type (`artifact_type`):
    exactly one of them. 201 with the feedback, which is listed on the run; 404 when the run has
    no such step or artifact."""
    feedback = give_feedback(
        app.tenant("write"),
        run_id,
        request.to_feedback(),
        store=wiring.thread_store(),
        runs=wiring.run_store(),
    )
    return Response(status_code=201, content_type="application/json", body=FeedbackOut.from_feedback(feedback))


lambda_handler = entry(app)
