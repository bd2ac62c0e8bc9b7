"""The repositories and runner a function uses, built once per process on first use."""

from __future__ import annotations

from functools import lru_cache

from threadline.settings import settings
from threadline.store import clients
from threadline.store.contexts import ContextStore
from threadline.store.crypto import UserDataCipher
from threadline.store.steps import StepStore
from threadline.store.threads import ThreadStore
from threadline.workflow.executions import WorkflowRunner


@lru_cache(maxsize=1)
def thread_store() -> ThreadStore:
    """The thread repository of this deployment."""
    config = settings()
    return ThreadStore(clients.dynamodb(), config.threads_table, UserDataCipher(clients.kms, config.kms_key_id))


@lru_cache(maxsize=1)
def step_store() -> StepStore:
    """The workflow-side step repository of this deployment."""
    return StepStore(clients.dynamodb(), settings().threads_table)


@lru_cache(maxsize=1)
def context_store() -> ContextStore:
    """The context document repository of this deployment."""
    return ContextStore(clients.dynamodb(), settings().threads_table)


@lru_cache(maxsize=1)
def workflow_runner() -> WorkflowRunner:
    """The runner of this deployment's state machine."""
    return WorkflowRunner(clients.stepfunctions, settings().state_machine_arn)


def reset() -> None:
    """Forget every cached object (tests start each case afresh)."""
    for factory in (thread_store, step_store, context_store, workflow_runner):
        factory.cache_clear()
    settings.cache_clear()
    clients.reset()
