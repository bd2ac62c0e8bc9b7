"""template.yaml agrees with the code: routes, functions, events files and the state machine."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

from threadline.api.routes import allowed_methods, paths
from threadline_tools.template import (
    ROOT,
    TEMPLATE,
    authorizer_function,
    function_code,
    resources,
    routes,
    template,
    template_routes,
)

from tests.conftest import EVENTS, load_event


def test_the_405_function_knows_exactly_the_templates_methods_per_path() -> None:
    # Given the template's routes
    served: dict[str, set[str]] = defaultdict(set)
    catch_all: set[str] = set()
    for route in template_routes():
        if route.method == "ANY":
            assert route.function == "MethodNotAllowedFunction"
            catch_all.add(route.path)
        else:
            served[route.path].add(route.method)

    # Then the route table the 405 function reads lists each path's methods, and the 405
    # function catches every other method on every path
    assert {path: set(allowed_methods(path)) for path in paths()} == served
    assert catch_all == set(served)


def test_the_route_table_is_the_templates_routes() -> None:
    # The local server routes by the layer's route table; API Gateway by template.yaml
    def key(route: object) -> tuple[str, str, str]:
        return (route.method, route.path, route.function)  # type: ignore[attr-defined]

    assert sorted(map(key, routes())) == sorted(map(key, template_routes()))


def test_every_function_has_its_code() -> None:
    # Given every function of the template
    for logical_id in resources("AWS::Serverless::Function"):
        # When its CodeUri and handler are resolved
        code_uri, handler = function_code(logical_id)

        # Then the directory holds the handler's module, which defines the handler
        module, _, attribute = handler.rpartition(".")
        source = code_uri / f"{module}.py"
        assert source.is_file(), f"{logical_id}: no {source}"
        defined = re.search(rf"^(def {attribute}\(|{attribute} = )", source.read_text(), re.MULTILINE)
        assert defined, f"{logical_id}: no {attribute} in {source}"


def test_no_two_functions_share_a_code_uri() -> None:
    code_uris = [function_code(name)[0] for name in resources("AWS::Serverless::Function")]
    assert len(set(code_uris)) == len(code_uris)


def test_every_function_has_an_events_file_matching_its_route() -> None:
    # Given the template's functions and their routes
    by_function = {route.function: route for route in routes() if route.method != "ANY"}

    for logical_id in resources("AWS::Serverless::Function"):
        # When its events file (named after its code directory) is read
        name = function_code(logical_id)[0].name
        assert (EVENTS / f"{name}.json").is_file(), f"{logical_id}: no events/{name}.json"
        event = load_event(f"{name}.json")

        # Then it is a request of that function's route
        route = by_function.get(logical_id)
        if route is not None:
            assert (event["httpMethod"], event["resource"]) == (route.method, route.path)
            assert event["requestContext"]["resourcePath"] == route.path
            assert route.matches(event["path"]) == (event["pathParameters"] or {})
            assert event["requestContext"]["stage"] == "api"
    assert function_code(authorizer_function())[0].name == "authorizer"


def test_route_events_carry_the_authorizer_context_the_authorizer_sets() -> None:
    behind_the_api = {route.function for route in routes()} | {authorizer_function()}
    for logical_id in sorted(behind_the_api):
        path = EVENTS / f"{function_code(logical_id)[0].name}.json"
        event = json.loads(path.read_text())
        if path.name == "authorizer.json":
            assert event["type"] == "REQUEST" and event["methodArn"].startswith("arn:aws:execute-api:")
            assert event["headers"]["Authorization"].startswith("Bearer tl_")
            continue
        context = event["requestContext"]["authorizer"]
        assert {"org_id", "project_id", "scopes", "key_id", "key_name", "principalId"} <= set(context), path.name
        assert event["requestContext"]["identity"]["sourceIp"]
        assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}, path.name
        single, multi = event["queryStringParameters"], event["multiValueQueryStringParameters"]
        assert (single is None) == (multi is None), path.name
        if multi is not None:
            assert single == {k: v[-1] for k, v in multi.items()}, path.name


def test_the_workflow_definition_parses_and_its_substitutions_cover_its_variables() -> None:
    # Given the state machine resource and its ASL file
    machine = resources("AWS::Serverless::StateMachine")["AgentWorkflow"]["Properties"]
    text = (ROOT / machine["DefinitionUri"]).read_text()

    # When its ${...} variables are compared with the substitutions
    variables = set(re.findall(r"\$\{([^}]+)\}", text))
    substitutions = set(machine["DefinitionSubstitutions"])

    # Then they are the same set, the file is JSON, and every Next names a state
    assert variables == substitutions
    definition = json.loads(text)
    states = definition["States"]
    assert definition["StartAt"] in states
    for name, state in states.items():
        targets = [state.get("Next")] + [c["Next"] for c in state.get("Catch", [])]
        assert all(t in states for t in targets if t is not None), name


def test_every_request_is_metered_by_the_usage_identifier_its_authorizer_returns() -> None:
    # Given the REST API
    [api] = resources("AWS::Serverless::Api").values()
    properties = api["Properties"]

    # Then API Gateway takes the API key from the authorizer (never from callers), and every
    # method requires one, so the usage plans apply to every request
    assert properties["ApiKeySourceType"] == "AUTHORIZER"
    assert properties["Auth"]["ApiKeyRequired"] is True


def test_the_per_key_usage_plan_throttles_and_meters_each_key_by_parameters() -> None:
    # Given the usage plans of the template
    plans = resources("AWS::ApiGateway::UsagePlan")
    parameters = template()["Parameters"]

    # Then the per-key plan covers the API's stage with the Key* parameters' throttle and quota
    # (a quota of 0 is none), and the stack names it for `threadline keys create --stack`
    per_key = plans["KeyUsagePlan"]["Properties"]
    assert per_key["ApiStages"] == [{"ApiId": {"Ref": "ThreadlineApi"}, "Stage": {"Ref": "ThreadlineApi.Stage"}}]
    assert per_key["Throttle"] == {
        "RateLimit": {"Ref": "KeyThrottlingRateLimit"},
        "BurstLimit": {"Ref": "KeyThrottlingBurstLimit"},
    }
    assert per_key["Quota"] == {
        "Fn::If": [
            "KeyQuotaEnabled",
            {"Limit": {"Ref": "KeyQuotaLimit"}, "Period": {"Ref": "KeyQuotaPeriod"}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert template()["Conditions"]["KeyQuotaEnabled"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "KeyQuotaLimit"}, 0]}]}
    assert parameters["KeyQuotaPeriod"]["AllowedValues"] == ["DAY", "WEEK", "MONTH"]
    assert template()["Outputs"]["KeyUsagePlanId"]["Value"] == {"Ref": "KeyUsagePlan"}

    # And keys without a plan of their own share a plan that adds no limit to the stage's
    shared = plans["SharedUsagePlan"]["Properties"]
    assert shared["ApiStages"] == per_key["ApiStages"]
    assert "Throttle" not in shared and "Quota" not in shared


def test_the_authorizer_names_the_shared_api_key_of_the_shared_plan() -> None:
    # Given the shared API key, its place on the shared plan, and the authorizer's environment
    shared_key = resources("AWS::ApiGateway::ApiKey")["SharedApiKey"]["Properties"]
    [membership] = resources("AWS::ApiGateway::UsagePlanKey").values()
    authorizer = resources("AWS::Serverless::Function")[authorizer_function()]["Properties"]

    # Then the authorizer's SHARED_USAGE_KEY is that key's value (one expression, written twice)
    assert membership["Properties"] == {
        "KeyId": {"Ref": "SharedApiKey"},
        "KeyType": "API_KEY",
        "UsagePlanId": {"Ref": "SharedUsagePlan"},
    }
    assert shared_key["Enabled"] is True
    assert authorizer["Environment"]["Variables"]["SHARED_USAGE_KEY"] == shared_key["Value"]


def test_gateway_answers_of_limits_and_of_a_failing_authorizer_are_json_in_both_dialects() -> None:
    # Given the gateway responses
    [api] = resources("AWS::Serverless::Api").values()
    responses = api["Properties"]["GatewayResponses"]

    # Then throttling, quotas, a key on no plan and a failing authorizer answer JSON both dialects
    # read, and Retry-After where waiting helps
    expected = {
        "THROTTLED": ("429", "throttled", "1"),
        "QUOTA_EXCEEDED": ("429", "quota_exceeded", None),
        "INVALID_API_KEY": ("401", "unauthorized", None),  # a revoked key is a 401 (SPEC §2), cached or not
        "AUTHORIZER_CONFIGURATION_ERROR": ("503", "service_unavailable", "5"),
        "AUTHORIZER_FAILURE": ("503", "service_unavailable", "5"),
    }
    for kind, (status, code, retry_after) in expected.items():
        response = responses[kind]
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert (body["success"], body["code"], body["errors"][0]["code"]) == (False, code, code), kind
        assert body["message"] == body["errors"][0]["message"], kind
        headers = response.get("ResponseParameters", {}).get("Headers", {})
        assert (response["StatusCode"], headers.get("Retry-After")) == (
            status,
            None if retry_after is None else f"'{retry_after}'",
        ), kind


def test_a_start_that_timed_out_may_be_looked_up_and_stopped() -> None:
    # Given the create function's permissions
    create = resources("AWS::Serverless::Function")["CreateThreadFunction"]["Properties"]
    actions = {
        action
        for statement in create["Policies"][0]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }

    # Then it may ask Step Functions whether a start that timed out started, and stop it
    assert {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"} <= actions


def _refs(value: object) -> set[str]:
    """The logical ids a template value refers to (Ref, GetAtt)."""
    if isinstance(value, dict):
        found = {value["Ref"]} if isinstance(value.get("Ref"), str) else set()
        if "Fn::GetAtt" in value:
            attribute = value["Fn::GetAtt"]
            found.add(attribute[0] if isinstance(attribute, list) else str(attribute).split(".")[0])
        return found.union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


def test_every_queue_of_failures_is_alarmed_on_its_depth() -> None:
    # Given the queues things go to when they fail: a stream mapping's or an invocation's on-failure
    # destination, an EventBridge target's dead letters, a queue's redrive target
    queues = resources("AWS::SQS::Queue")
    failures: set[str] = set()
    for function in resources("AWS::Serverless::Function").values():
        props = function["Properties"]
        failures |= _refs(props.get("EventInvokeConfig", {}).get("DestinationConfig", {})) & set(queues)
        for event in props.get("Events", {}).values():
            on_failure = event["Properties"].get("DestinationConfig", {})
            failures |= _refs([on_failure, event["Properties"].get("DeadLetterConfig", {})]) & set(queues)
    for queue in queues.values():
        failures |= _refs(queue["Properties"].get("RedrivePolicy", {})) & set(queues)
    assert {"IndexFailuresQueue", "EventFailuresQueue", "ReconcileFailuresQueue", "WebhookDeadLetterQueue"} <= failures

    # Then each has an alarm on the messages it holds
    alarmed = {
        queue
        for alarm in resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        for queue in _refs(alarm["Properties"]["Dimensions"])
    }
    assert failures - alarmed == set()


def test_every_log_group_keeps_its_logs_for_the_parameters_days_and_the_workflow_logs_its_errors() -> None:
    groups = resources("AWS::Logs::LogGroup")
    assert groups and all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())
    logging = resources("AWS::Serverless::StateMachine")["AgentWorkflow"]["Properties"]["Logging"]
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ERROR", False)
    assert _refs(logging["Destinations"]) == {"AgentWorkflowLogs"}


# ----- observability (docs/operations.md, "Alarms", "Dashboard", "Tracing") ---------------------

NOTIFY = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def test_every_function_writes_to_a_log_group_of_its_own() -> None:
    # Given the functions and the log groups of the template
    functions = resources("AWS::Serverless::Function")
    groups = resources("AWS::Logs::LogGroup")

    # Then each function names its own group, created by the template (so with LogRetentionDays,
    # and before the function writes), under /aws/lambda/<stack>/<function>
    named = {name: props["Properties"].get("LoggingConfig", {}).get("LogGroup") for name, props in functions.items()}
    for name, group in named.items():
        assert group == {"Ref": f"{name}Logs"}, name
        assert groups[f"{name}Logs"]["Properties"]["LogGroupName"] == {
            "Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{name}"
        }
    assert len({str(group) for group in named.values()}) == len(functions)


def test_every_function_has_an_errors_and_a_throttles_alarm() -> None:
    # Given the alarms on Lambda's metrics, by metric and the function they name
    alarmed: dict[str, set[str]] = defaultdict(set)
    for alarm in resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == "AWS/Lambda":
            [dimension] = props["Dimensions"]
            assert dimension["Name"] == "FunctionName"
            alarmed[props["MetricName"]] |= _refs(dimension)
            assert (props["Statistic"], props["Threshold"], props["ComparisonOperator"]) == (
                "Sum",
                0,
                "GreaterThanThreshold",
            )

    # Then every function of the template has both (a new function without them fails here), but
    # those whose errors are their answers: the agent fails a run by raising (WorkflowFailedAlarm
    # counts failed runs), the authorizer refuses a key by raising (its failures are 503s of the API)
    functions = set(resources("AWS::Serverless::Function"))
    assert alarmed["Errors"] == functions - {"AgentFunction", "AuthorizerFunction"}
    assert alarmed["Throttles"] == functions


def test_the_api_the_workflow_and_every_table_are_alarmed() -> None:
    alarms = {name: alarm["Properties"] for name, alarm in resources("AWS::CloudWatch::Alarm").items()}
    [(api_id, api)] = resources("AWS::Serverless::Api").items()

    # The API's 5xx rate and p99 latency, on the dimensions API Gateway publishes (its name, its stage)
    api_dimensions = [
        {"Name": "ApiName", "Value": api["Properties"]["Name"]},
        {"Name": "Stage", "Value": api["Properties"]["StageName"]},
    ]
    assert (alarms["ApiErrorRateAlarm"]["MetricName"], alarms["ApiErrorRateAlarm"]["Statistic"]) == (
        "5XXError",
        "Average",
    )
    assert (alarms["ApiLatencyAlarm"]["MetricName"], alarms["ApiLatencyAlarm"]["ExtendedStatistic"]) == (
        "Latency",
        "p99",
    )
    assert alarms["ApiLatencyAlarm"]["Threshold"] == {"Ref": "ApiLatencyAlarmMs"}
    for name in ("ApiErrorRateAlarm", "ApiLatencyAlarm"):
        assert alarms[name]["Dimensions"] == api_dimensions, name
    assert api_id == "ThreadlineApi"

    # The workflow's failed and timed-out executions (aborted ones are cancels)
    workflow = {
        alarm["MetricName"]
        for alarm in alarms.values()
        if alarm.get("Dimensions") == [{"Name": "StateMachineArn", "Value": {"Ref": "AgentWorkflow"}}]
    }
    assert workflow == {"ExecutionsFailed", "ExecutionsTimedOut"}

    # Every table's read and write throttles
    throttled: dict[str, set[str]] = defaultdict(set)
    for alarm in alarms.values():
        for query in alarm.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == "AWS/DynamoDB":
                throttled[metric["MetricName"]] |= _refs(metric["Dimensions"])
    tables = set(resources("AWS::DynamoDB::Table"))
    assert throttled == {"ReadThrottleEvents": tables, "WriteThrottleEvents": tables}


def test_every_alarm_notifies_the_alarm_topic_when_one_is_given() -> None:
    alarms = resources("AWS::CloudWatch::Alarm")
    assert len(alarms) > 2 * len(resources("AWS::Serverless::Function"))
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert (props["AlarmActions"], props["OKActions"]) == (NOTIFY, NOTIFY), name
        assert props["TreatMissingData"] == "notBreaching", name
    assert template()["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    assert template()["Parameters"]["AlarmTopicArn"]["Default"] == ""


def _dashboard() -> tuple[dict[str, Any], set[str]]:
    """The dashboard's body as JSON (each ${...} of its !Sub a placeholder) and the names it substitutes."""
    [dashboard] = resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([^!}][^}]*)\}", body))
    text = re.sub(r"\$\{!([^}]*)\}", r"$[\1]", body)  # ${!X} is a literal ${X}
    return json.loads(re.sub(r"\$\{[^}]*\}", "x", text)), names


def test_the_dashboard_is_json_naming_the_templates_resources_and_the_apps_metrics() -> None:
    # Given the dashboard's body
    body, names = _dashboard()

    # Then what it substitutes exists (a resource, its attribute, a parameter or a pseudo parameter)
    declared = set(template()["Resources"]) | set(template()["Parameters"])
    assert {name.split(".")[0] for name in names if not name.startswith("AWS::")} <= declared

    # And it graphs the app's metrics of this stack: namespace Threadline, dimension service
    graphed: set[str] = set()
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric[-1], dict) and "expression" in metric[-1]:
                expression = metric[-1]["expression"]
                found = re.fullmatch(
                    r"SEARCH\('\{Threadline,[a-z_,]+\} MetricName=\"(\w+)\" service=\"x\"', .*\)", expression
                )
                assert found, expression
                graphed.add(found.group(1))
            elif metric[0] == "Threadline":
                assert metric[2:4] == ["service", "x"], metric
                graphed.add(metric[1])
    assert graphed == {
        "ThreadsCreated",
        "RunsFinished",
        "StepDuration",
        "InterruptsRaised",
        "InterruptsResolved",
        "AuthorizerDenials",
        "Throttled",
        "IdempotentReplays",
    }
    assert template()["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"].endswith("#dashboards:name=${Dashboard}")


def test_the_dashboard_graphs_every_functions_errors_and_throttles() -> None:
    # (a new function without its line on the dashboard fails here, as without its alarms)
    [dashboard] = resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    for metric in ("Errors", "Throttles"):
        graphed = set(re.findall(rf'"AWS/Lambda","{metric}","FunctionName","\$\{{(\w+)\}}"', body))
        assert graphed == set(resources("AWS::Serverless::Function")), metric


def test_tracing_follows_the_enable_tracing_parameter_and_never_captures_responses() -> None:
    functions = template()["Globals"]["Function"]
    variables = functions["Environment"]["Variables"]
    [api] = resources("AWS::Serverless::Api").values()
    machine = resources("AWS::Serverless::StateMachine")["AgentWorkflow"]["Properties"]

    assert functions["Tracing"] == {"Fn::If": ["TracingEnabled", "Active", "PassThrough"]}
    assert api["Properties"]["TracingEnabled"] == {"Fn::If": ["TracingEnabled", True, False]}
    assert machine["Tracing"] == {"Enabled": {"Fn::If": ["TracingEnabled", True, False]}}
    assert variables["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["TracingEnabled", "false", "true"]}
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"  # responses carry user_data
    # the app's metrics' `service` dimension (threadline.observability): stacks keep theirs apart
    assert variables["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}

    # The workflow's role may write its traces (SAM adds this for functions only)
    [xray] = [p for p in machine["Policies"] if isinstance(p, dict) and "Fn::If" in p]
    condition, allowed, _ = xray["Fn::If"]
    assert condition == "TracingEnabled"
    assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= set(allowed["Statement"][0]["Action"])


def test_everything_invokes_a_functions_published_alias() -> None:
    # Given SnapStart, which serves published versions only
    functions = template()["Globals"]["Function"]
    assert functions["SnapStart"] == {"ApplyOn": {"Fn::If": ["SnapStartEnabled", "PublishedVersions", "None"]}}
    assert functions["AutoPublishAlias"] == "live"

    # Then a function publishes a new version whenever any of its properties changes, a layer
    # version among them (layers publish their users' versions)
    for name, function in resources("AWS::Serverless::Function").items():
        assert function["Properties"]["AutoPublishAliasAllProperties"] is True, name
    for name, layer in resources("AWS::Serverless::LayerVersion").items():
        assert layer["Properties"]["PublishLambdaVersion"] is True, name

    # And nothing names a function's unqualified ARN ($LATEST): the authorizer and the workflow
    # name the alias (the events' sources SAM points at the alias itself)
    text = TEMPLATE.read_text()
    assert not re.search(r"!GetAtt \w+Function\.Arn", text)
    assert "FunctionArn: !Ref AuthorizerFunction.Alias" in text
    assert "AgentFunctionArn: !Ref AgentFunction.Alias" in text
