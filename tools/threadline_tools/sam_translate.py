"""Apply the SAM transform to a template, as a script run by the AWS SAM CLI's Python
(``.venv-sam/bin/python``): its samtranslator is the one ``sam validate`` runs, and it cannot
live in ``.venv`` (it pins an older pydantic than the layer's). Imports nothing of Threadline.

Reads ``{"template": {...}, "parameters": {...}, "region": "us-east-1"}`` as JSON on stdin and
writes the CloudFormation template as JSON on stdout; an invalid template exits 1 with the
translator's reasons on stderr. ``threadline_tools.rehearsal`` runs it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.translator import Translator


def translate(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    """The template with the SAM transform applied (the region names the partition, ARNs and URLs)."""
    # As `sam validate` builds it; a session needs no credentials for this. Managed policies are
    # looked up only by name: the template names none (every policy is inline or a SAM policy template).
    translator = Translator(
        managed_policy_map=None,
        sam_parser=Parser(),
        plugins=[],
        boto_session=boto3.session.Session(region_name=region),
    )
    translated: dict[str, Any] = translator.translate(
        sam_template=template, parameter_values=dict(parameters), get_managed_policy_map=dict
    )
    return translated


def main() -> int:
    request = json.load(sys.stdin)
    try:
        translated = translate(request["template"], request["parameters"], request["region"])
    except InvalidDocumentException as error:
        print(error, *(f"  {cause}" for cause in error.causes), sep="\n", file=sys.stderr)
        return 1
    json.dump(translated, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
