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
    from threadline.store.events import EventStore
    from threadline.store.runs import RunStore
    from threadline.store.steps import StepStore
    from threadline.store.thread_index import ThreadIndexer
    from threadline.store.thread_status import ThreadStatusStore
    from threadline.store.threads import ThreadStore
    from threadline.store.webhooks import DeliveryQueue, WebhookStore
    from threadline.webhooks.sender import WebhookSender
    from threadline.workflow.executions import WorkflowRunner

__all__ = [
    "api_key_store",
    "context_store",
    "event_store",
    "idempotent_replies",
    "reset",
    "run_store",
    "status_store",
    "step_store",
    "stream_window_seconds",
    "thread_indexer",
    "thread_store",
    "user_data_cipher",
    "webhook_queue",
    "webhook_retry_scale",
    "webhook_sender",
    "webhook_store",
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


@lru_cache(maxsize=1)
def event_store() -> EventStore:
    """The event log."""
    from threadline.store.events import EventStore

    return EventStore(clients.dynamodb(), settings().events_table, settings().event_retention_days)


def stream_window_seconds() -> float:
    """How long a run's stream holds a request for new events."""
    return settings().stream_window_seconds


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


@lru_cache(maxsize=1)
def webhook_store() -> WebhookStore:
    """The org's webhook endpoints (secrets sealed with the user_data key) and delivery logs."""
    from threadline.store.webhooks import WebhookStore

    config = settings()
    return WebhookStore(clients.dynamodb(), config.webhooks_table, user_data_cipher(), config.event_retention_days)


@lru_cache(maxsize=1)
def webhook_queue() -> DeliveryQueue:
    """The queue of webhook deliveries."""
    from threadline.store.webhooks import DeliveryQueue

    return DeliveryQueue(clients.sqs(), settings().webhook_queue_url)


@lru_cache(maxsize=1)
def webhook_sender() -> WebhookSender:
    """Checks receiver URLs and sends deliveries (loopback receivers only where allowed: locally)."""
    from threadline.webhooks.sender import WebhookSender

    return WebhookSender(allow_loopback=settings().webhooks_allow_loopback)


def webhook_retry_scale() -> float:
    """How the webhook retry schedule is scaled here (1 in AWS)."""
    return settings().webhook_retry_scale


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
        event_store,
        workflow_runner,
        webhook_store,
        webhook_queue,
        webhook_sender,
    ):
        factory.cache_clear()
    settings.cache_clear()
    clients.reset()
