"""Webhook pieces that need no AWS: which addresses may receive (SSRF rules), the Standard
Webhooks signature (checked against the specification's own library), the retry schedule."""

from __future__ import annotations

import base64
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
from threadline.logic.webhooks import RETRY_DELAYS, RetrySchedule
from threadline.webhooks import urls
from threadline.webhooks.signing import new_secret, signature, signed_headers


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.0.1", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("100.127.255.254", "a shared (carrier-grade NAT) address"),
        ("224.0.0.251", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("192.0.2.10", "a private address"),  # documentation range
        ("::1", "a loopback address"),
        ("::", "an unspecified address"),
        ("fe80::1%eth0", "a link-local address"),
        ("fd00:ec2::254", "a private address"),  # the metadata service over IPv6
        ("ff02::1", "a multicast address"),
        ("::ffff:10.0.0.1", "a private address"),  # IPv4-mapped
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::7f00:1", "a loopback address"),  # IPv4-compatible ::127.0.0.1
        ("64:ff9b::a9fe:a9fe", "a link-local address"),  # NAT64 of 169.254.169.254
        ("2002:a00:1::1", "a private address"),  # 6to4 of 10.0.0.1
    ],
)
def test_inward_addresses_are_forbidden(address: str, reason: str) -> None:
    assert urls.forbidden(address) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert urls.forbidden(address) is None


def test_loopback_is_allowed_only_when_allowed_and_nothing_else_is() -> None:
    assert urls.forbidden("127.0.0.1", allow_loopback=True) is None
    assert urls.forbidden("::1", allow_loopback=True) is None
    assert urls.forbidden("10.0.0.1", allow_loopback=True) == "a private address"
    assert urls.forbidden("169.254.169.254", allow_loopback=True) == "a link-local address"


def resolver(*addresses: str) -> Any:
    def getaddrinfo(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return getaddrinfo


def test_a_url_resolves_to_a_target_naming_its_host_and_the_checked_addresses() -> None:
    target = urls.resolve("https://Hooks.Example.com:8443/in?x=1", resolver=resolver("93.184.215.14"))
    assert target == urls.Target("https", "hooks.example.com", 8443, "/in?x=1", ("93.184.215.14",))
    assert target.host_header == "hooks.example.com:8443"
    assert urls.resolve("https://hooks.example.com", resolver=resolver("8.8.8.8")).host_header == "hooks.example.com"


def test_one_inward_address_in_an_answer_refuses_the_whole_answer() -> None:
    with pytest.raises(urls.UrlNotAllowedError, match=r"resolves to a private address \(10\.0\.0\.2\)"):
        urls.resolve("https://hooks.example.com/", resolver=resolver("8.8.8.8", "10.0.0.2"))


def test_http_is_allowed_only_to_loopback_and_only_when_allowed() -> None:
    loop = resolver("127.0.0.1")
    assert urls.resolve("http://localhost:8080/", allow_loopback=True, resolver=loop).scheme == "http"
    with pytest.raises(urls.UrlNotAllowedError, match="url must use https"):
        urls.resolve("http://localhost:8080/", resolver=loop)
    with pytest.raises(urls.UrlNotAllowedError, match="url must use https"):
        urls.resolve("http://hooks.example.com/", allow_loopback=True, resolver=resolver("8.8.8.8"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://user@hooks.example.com/", "url must not contain credentials"),
        ("https://hooks.example.com:99999/", "url has an invalid port"),
        ("https://hooks.example.com/a b", "url must not contain spaces or control characters"),
        ("https://hooks.example.com/\n", "url must not contain spaces or control characters"),
        ("javascript:alert(1)", "url must use https"),
        ("//hooks.example.com/", "url must use https"),
        ("https://[::1/", "url is not a valid URL"),
        ("https://[zz]/x", "url is not a valid URL"),
    ],
)
def test_malformed_urls_are_refused_before_any_lookup(url: str, message: str) -> None:
    with pytest.raises(urls.UrlNotAllowedError) as raised:
        urls.resolve(url, resolver=resolver("8.8.8.8"))
    assert str(raised.value) == message


def test_secrets_are_standard_webhooks_secrets() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_the_signature_is_the_specifications_and_its_library_verifies_it() -> None:
    # Given a secret, a message id, a timestamp and a body
    secret = new_secret()
    timestamp = int(datetime.now(UTC).timestamp())
    body = '{"object":"event","id":"evt_1","type":"run.completed","data":{"object":{"id":"r1"}}}'

    # Then our signature is the library's own, and the library verifies our headers
    library = standardwebhooks.Webhook(secret)
    assert signature(secret, "evt_1", timestamp, body) == library.sign("evt_1", datetime.fromtimestamp(timestamp), body)
    headers = signed_headers(secret, "evt_1", timestamp, body)
    assert library.verify(body, headers)["id"] == "evt_1"
    # And a changed body does not verify
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        library.verify(body.replace("r1", "r2"), headers)


def test_the_retry_schedule_spans_more_than_a_day() -> None:
    schedule = RetrySchedule()
    assert schedule.attempts == len(RETRY_DELAYS) + 1 == 8
    assert sum(RETRY_DELAYS) >= 24 * 3600
    assert [schedule.delay_after(n) for n in range(1, 9)] == [*RETRY_DELAYS, None]
    compressed = RetrySchedule(scale=0.002)  # the local server's: a day in about three minutes
    assert sum(compressed.delay_after(n) or 0 for n in range(1, 8)) < 300


def test_webhook_keys_lead_with_the_org_and_match_the_template() -> None:
    from threadline.store import keys
    from threadline_tools.template import resources

    # An org's endpoints share one partition; each endpoint's log is a partition of its own
    assert keys.webhook_endpoint_key("acme", "we_1") == {"pk": "W#acme", "sk": "ENDPOINT#we_1"}
    assert keys.webhook_attempt_key("acme", "we_1", "2026-01-01T00:00:00.000Z", "dlv_1.1") == {
        "pk": "D#acme#we_1",
        "sk": "2026-01-01T00:00:00.000Z#dlv_1.1",
    }
    assert keys.webhook_endpoints_pk("acme") != keys.webhook_endpoints_pk("acme2")
    with pytest.raises(ValueError):
        keys.webhook_endpoint_key("acme", "we_1#x")
    # And the template's table has exactly that key schema, and expires the log by its TTL
    table = resources("AWS::DynamoDB::Table")["WebhooksTable"]["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    queue = resources("AWS::SQS::Queue")["WebhookDeliveryQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}
    alarm = resources("AWS::CloudWatch::Alarm")["WebhookDeadLetterAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "ApproximateNumberOfMessagesVisible",
        "GreaterThanThreshold",
        0,
    )
