"""GET /thread/{id}: one thread, Agentuity dialect."""

from aws_lambda_powertools.event_handler import Response
from threadline import wiring
from threadline.api.agentuity import AGENTUITY
from threadline.api.agentuity.models import AgentuityThread, AgentuityThreadResponse
from threadline.api.etag import thread_reply
from threadline.api.route import RestApp, entry
from threadline.logic.get_thread import get_thread

app = RestApp(AGENTUITY)


@app.get("/thread/<thread_id>", summary="Get a thread (Agentuity)")
def handle_agentuity_get_thread(thread_id: str) -> Response[AgentuityThreadResponse]:
    """``{"success": true, "data": thread}``; 404 when absent, deleted or another tenant's."""
    thread = get_thread(app.tenant("read"), thread_id, store=wiring.thread_store())
    return thread_reply(AgentuityThreadResponse(data=AgentuityThread.from_thread(thread)), thread.version)


lambda_handler = entry(app)
