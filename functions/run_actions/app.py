"""POST /v1/runs/{id}/actions: a person's answer to one of a run's pending interrupts."""

from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.models import RunActionRequest, RunOut
from threadline.api.route import RestApp, entry
from threadline.logic.runs import act_on_run

app = RestApp(NATIVE)


@app.post(
    "/v1/runs/<run_id>/actions",
    summary="Answer a run's interrupt",
    responses={409: {"description": "The interrupt is not pending, or its run no longer runs."}},
)
def handle_run_actions(run_id: str, request: RunActionRequest) -> RunOut:
    """Answer one of the run's pending interrupts with a decision it accepts, or dismiss it; the
    run resumes. 404 when the run has no such interrupt, 409 when it is not pending."""
    run = act_on_run(
        app.tenant("write"),
        run_id,
        request.to_action(),
        store=wiring.thread_store(),
        steps=wiring.step_store(),
        runner=wiring.workflow_runner(),
        runs=wiring.run_store(),
    )
    return RunOut.from_run(run)


lambda_handler = entry(app)
