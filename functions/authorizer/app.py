"""The REQUEST authorizer: Bearer API key → tenant (org, project, scopes)."""

from functools import lru_cache

from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.auth.authorizer import authorize
from threadline.settings import settings
from threadline.store import clients
from threadline.store.api_keys import ApiKeyStore


@lru_cache(maxsize=1)
def _key_store() -> ApiKeyStore:
    return ApiKeyStore(clients.dynamodb(), settings().keys_table)


def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return authorize(event, _key_store())
