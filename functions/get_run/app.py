"""GET /v1/runs/{id}: one run with its steps, output and pending interrupts."""

from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.models import RunOut
from threadline.api.route import RestApp, entry
from threadline.logic.runs import get_run

app = RestApp(NATIVE)


@app.get("/v1/runs/<run_id>", summary="Retrieve a run")
def handle_get_run(run_id: str) -> RunOut:
    """A run with its steps, its output (its last artifacts), its pending interrupts and the
    feedback given on it; 404 when absent, of a deleted thread, or another tenant's."""
    run = get_run(app.tenant("read"), run_id, store=wiring.thread_store(), runs=wiring.run_store())
    return RunOut.from_run(run)


lambda_handler = entry(app)
