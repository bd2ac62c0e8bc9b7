"""``threadline publish --stack NAME``: a new version of every function of a stack, and its alias
``live`` moved to it (docs/deploy.md, "Versions and parameters").

Everything invokes a function's alias ``live``, which the SAM transform moves to a new version when
the function's code or properties change in the template, but not when only a parameter's value
does (the version's logical id is a hash of the template as written, its parameters unresolved).
A deploy that only changes parameters (``EnableSnapStart``, ``EnableTracing``, ``RetentionDays``,
``EventRetentionDays``, ``WorkflowType``) updates each function's unpublished configuration; this
publishes it and points the alias at it. A function whose configuration and code are those of the
alias's version keeps it (Lambda publishes no new version of an unchanged function).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ALIAS = "live"


@dataclass(frozen=True)
class Published:
    """A function's alias, before and after."""

    function: str
    before: str
    after: str


def stack_functions(cloudformation: Any, stack: str) -> Iterator[str]:
    """The physical names of the stack's Lambda functions."""
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] == "AWS::Lambda::Function":
                yield resource["PhysicalResourceId"]


def publish(lambda_client: Any, function: str) -> Published:
    """Publish ``function``'s current code and configuration and move its alias to it, once the
    version is ready (with SnapStart, once its snapshot is)."""
    before = lambda_client.get_alias(FunctionName=function, Name=ALIAS)["FunctionVersion"]
    version = lambda_client.publish_version(FunctionName=function)["Version"]
    if version != before:
        lambda_client.get_waiter("published_version_active").wait(FunctionName=function, Qualifier=version)
        lambda_client.update_alias(FunctionName=function, Name=ALIAS, FunctionVersion=version)
    return Published(function, before, version)


def publish_stack(cloudformation: Any, lambda_client: Any, stack: str) -> list[Published]:
    """:func:`publish` every function of ``stack``."""
    return [publish(lambda_client, function) for function in sorted(stack_functions(cloudformation, stack))]
