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
    from threadline.store.api_keys import ApiKeyStore
    from threadline.store.contexts import ContextStore
    from threadline.store.steps import StepStore
    from threadline.store.thread_index import ThreadIndexer
    from threadline.store.thread_status import ThreadStatusStore
    from threadline.store.threads import ThreadStore
    from threadline.workflow.executions import WorkflowRunner

__all__ = [
    "api_key_store",
    "context_store",
    "reset",
    "status_store",
    "step_store",
    "thread_indexer",
    "thread_store",
    "workflow_runner",
]


@lru_cache(maxsize=1)
def thread_store() -> ThreadStore:
    """The thread repository."""
    from threadline.store.crypto import UserDataCipher
    from threadline.store.threads import ThreadStore

    config = settings()
    cipher = UserDataCipher(clients.kms, config.kms_key_id)
    return ThreadStore(clients.dynamodb(), config.threads_table, cipher, config.retention_days, config.cursor_secret)


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
def context_store() -> ContextStore:
    """The context document repository."""
    from threadline.store.contexts import ContextStore

    return ContextStore(clients.dynamodb(), settings().threads_table)


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


def reset() -> None:
    """Forget every cached object (tests start each case afresh)."""
    for factory in (thread_store, thread_indexer, status_store, step_store, context_store, workflow_runner):
        factory.cache_clear()
    settings.cache_clear()
    clients.reset()
