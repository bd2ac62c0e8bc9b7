"""DELETE /thread/{id}: soft delete, Agentuity dialect."""

from threadline import wiring
from threadline.api.agentuity import AGENTUITY
from threadline.api.agentuity.models import AgentuitySuccess
from threadline.api.route import RestApp, entry
from threadline.logic.delete_thread import delete_thread

app = RestApp(AGENTUITY)


@app.delete(
    "/thread/<thread_id>",
    summary="Delete a thread (Agentuity)",
    responses={409: {"description": "The thread kept changing while being deleted; try again."}},
)
def handle_agentuity_delete_thread(thread_id: str) -> AgentuitySuccess:
    """Soft delete; answers 200 ``{"success": true}`` (the Agentuity SDK rejects an empty body)."""
    delete_thread(
        app.tenant("write"),
        thread_id,
        store=wiring.thread_store(),
        steps=wiring.step_store(),
        runner=wiring.workflow_runner(),
    )
    return AgentuitySuccess()


lambda_handler = entry(app)
