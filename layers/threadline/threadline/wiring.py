"""The composition root: settings, AWS clients, repositories and the workflow runner of this
deployment, each built once per process on first use (never at import time, so a function pays
only for what it touches). Handlers take what they need from here; nothing below imports it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from threadline import clients
from threadline.settings import settings

if TYPE_CHECKING:
    from threadline.api.idempotency import IdempotentReplies
    from threadline.store.api_keys import ApiKeyStore
    from threadline.store.contexts import ContextStore
    from threadline.store.crypto import UserDataCipher
    from threadline.store.runs import RunStore
    from threadline.store.steps import StepStore
    from threadline.store.thread_index import ThreadIndexer
    from threadline.store.thread_status import ThreadStatusStore
    from threadline.store.threads import ThreadStore
    from threadline.workflow.executions import WorkflowRunner

__all__ = [
    "api_key_store",
    "context_store",
    "idempotent_replies",
    "reset",
    "run_store",
    "status_store",
    "step_store",
    "thread_indexer",
    "thread_store",
    "user_data_cipher",
    "workflow_runner",
]


@lru_cache(maxsize=1)
def user_data_cipher() -> UserDataCipher:
    """The envelope encryption of ``user_data`` (and of what holds it)."""
    from threadline.store.crypto import UserDataCipher

    return UserDataCipher(clients.kms, settings().kms_key_id)


@lru_cache(maxsize=1)
def thread_store() -> ThreadStore:
    """The thread repository."""
    from threadline.store.threads import ThreadStore

    config = settings()
    return ThreadStore(
        clients.dynamodb(), config.threads_table, user_data_cipher(), config.retention_days, config.cursor_secret
    )


@lru_cache(maxsize=1)
def idempotent_replies() -> IdempotentReplies:
    """The record of creating requests by ``Idempotency-Key`` (Powertools, on DynamoDB)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from threadline.api.idempotency import IdempotentReplies

    persistence = DynamoDBPersistenceLayer(table_name=settings().idempotency_table, boto3_client=clients.dynamodb())
    return IdempotentReplies(persistence, user_data_cipher())


@lru_cache(maxsize=1)
def thread_indexer() -> ThreadIndexer:
    """The writer of metadata index items and counters (fed by the threads table's stream)."""
    from threadline.store.thread_index import ThreadIndexer

    return ThreadIndexer(clients.dynamodb(), settings().threads_table)


@lru_cache(maxsize=1)
def status_store() -> ThreadStatusStore:
    """The one writer of thread statuses."""
    from threadline.store.thread_status import ThreadStatusStore

    return ThreadStatusStore(clients.dynamodb(), settings().threads_table)


@lru_cache(maxsize=1)
def step_store() -> StepStore:
    """The step repository."""
    from threadline.store.steps import StepStore

    return StepStore(clients.dynamodb(), settings().threads_table, status_store())


@lru_cache(maxsize=1)
def run_store() -> RunStore:
    """The run repository."""
    from threadline.store.runs import RunStore

    return RunStore(clients.dynamodb(), settings().threads_table, settings().cursor_secret)


@lru_cache(maxsize=1)
def context_store() -> ContextStore:
    """The context document repository."""
    from threadline.store.contexts import ContextStore

    return ContextStore(clients.dynamodb(), settings().threads_table)


def shared_usage_key() -> str | None:
    """The usage identifier of API keys without a usage plan of their own (template.yaml's
    SharedApiKey); None where there are no usage plans (the local server)."""
    return settings().shared_usage_key or None


def api_key_store() -> ApiKeyStore:
    """The API key repository. A plain object built per call around the cached client, so
    ``reset()`` reaches the authorizer too."""
    from threadline.store.api_keys import ApiKeyStore

    return ApiKeyStore(clients.dynamodb(), settings().keys_table)


@lru_cache(maxsize=1)
def workflow_runner() -> WorkflowRunner:
    """The runner of this deployment's state machine."""
    from threadline.workflow.executions import WorkflowRunner

    return WorkflowRunner(clients.stepfunctions, settings().state_machine_arn)


def workflow_type() -> str:
    """STANDARD or EXPRESS: what this deployment's state machine can do (wait, be stopped)."""
    return settings().workflow_type


def reset() -> None:
    """Forget every cached object (tests start each case afresh)."""
    for factory in (
        user_data_cipher,
        idempotent_replies,
        thread_store,
        thread_indexer,
        status_store,
        step_store,
        run_store,
        context_store,
        workflow_runner,
    ):
        factory.cache_clear()
    settings.cache_clear()
    clients.reset()
