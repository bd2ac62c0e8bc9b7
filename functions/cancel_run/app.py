"""POST /v1/runs/{id}/cancel: stop a run."""

from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.models import RunOut
from threadline.api.route import RestApp, entry
from threadline.logic.runs import cancel_run

app = RestApp(NATIVE)


@app.post(
    "/v1/runs/<run_id>/cancel",
    summary="Cancel a run",
    responses={409: {"description": "The run has already finished."}},
)
def handle_cancel_run(run_id: str) -> RunOut:
    """Stop a running or interrupted run (its thread is cancelled with it); 409 when it has already finished."""
    run = cancel_run(
        app.tenant("write"),
        run_id,
        store=wiring.thread_store(),
        steps=wiring.step_store(),
        runner=wiring.workflow_runner(),
        runs=wiring.run_store(),
    )
    return RunOut.from_run(run)


lambda_handler = entry(app)
