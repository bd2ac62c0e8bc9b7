"""Sending one delivery: the URL checked again (``urls``), then a POST to the very address the
check allowed, so a DNS answer that changes between check and connection (DNS rebinding) cannot
send it elsewhere. The request still names the host (``Host`` and the TLS server name, whose
certificate is verified), no redirect is followed, and the whole exchange is bounded by a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from threadline.models.webhooks import SendResult
from threadline.webhooks import urls

DEFAULT_TIMEOUT_SECONDS = 10.0
USER_AGENT = "Threadline-Webhooks/1"


class WebhookSender:
    """Checks receiver URLs and POSTs deliveries to them."""

    def __init__(
        self,
        allow_loopback: bool = False,
        timeout: float | None = None,
        resolver: urls.Resolver | None = None,
    ) -> None:
        self.allow_loopback = allow_loopback
        self._timeout = timeout if timeout is not None else DEFAULT_TIMEOUT_SECONDS
        self._resolver = resolver

    def check(self, url: str) -> urls.Target:
        """The checked target of ``url`` (raises ``urls.UrlNotAllowedError`` saying why not)."""
        return urls.resolve(url, self.allow_loopback, self._resolver)

    def post(self, url: str, body: str, headers: Mapping[str, str]) -> SendResult:
        """POST ``body`` to ``url``: an HTTP status (any: the caller decides what it means), or the
        error that came first (a URL not allowed, no connection, TLS, a timeout)."""
        started = time.monotonic()
        try:
            target = self.check(url)
        except urls.UrlNotAllowedError as refused:
            return SendResult(error=str(refused), duration_ms=_since(started))
        status, failure = self._post(target, body.encode(), {**headers, "user-agent": USER_AGENT})
        return SendResult(http_status=status, error=failure, duration_ms=_since(started))

    def _post(self, target: urls.Target, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        import urllib3  # (imported on the first delivery, not at cold start)

        timeout = urllib3.Timeout(total=self._timeout)
        headers = {**headers, "host": target.host_header}
        error: str | None = None
        for address in target.addresses:  # every one was allowed: the next if one does not answer
            pool: urllib3.HTTPConnectionPool
            if target.scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    address,
                    target.port,
                    server_hostname=target.host,
                    assert_hostname=target.host,
                    cert_reqs="CERT_REQUIRED",
                    timeout=timeout,
                    retries=False,
                    maxsize=1,
                )
            else:
                pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)
            try:
                response = pool.urlopen(
                    "POST", target.path, body=body, headers=headers, redirect=False, preload_content=False
                )
                status = int(response.status)
                response.close()  # the receiver's answer is its status: its body is never read or kept
                return status, None
            except urllib3.exceptions.NewConnectionError:
                error = f"could not connect to {target.host}"
            except (urllib3.exceptions.TimeoutError, TimeoutError):
                return None, f"timed out after {self._timeout:g} s"
            except urllib3.exceptions.SSLError:
                return None, f"TLS handshake with {target.host} failed (certificate not valid for the host?)"
            except (urllib3.exceptions.HTTPError, OSError) as failure:
                return None, f"request failed: {type(failure).__name__}"
            finally:
                pool.close()
        return None, error


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
