"""The REQUEST authorizer: Bearer API key → tenant (org, project, scopes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from threadline.auth.authorizer import authorize
from threadline.settings import settings
from threadline.store import clients
from threadline.store.api_keys import ApiKeyStore

if TYPE_CHECKING:  # Powertools is not imported at run time: ~50 ms of this function's cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext


def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # The client and settings are cached per process; the store around them is a
    # plain object built per call, so factory.reset() reaches the authorizer too.
    return authorize(event, ApiKeyStore(clients.dynamodb(), settings().keys_table))
