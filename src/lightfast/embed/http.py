"""The one HTTP layer every model provider (embeddings and rerankers) calls through.

Every call has a timeout; a 429 or 5xx answer (and a timeout or lost connection) is retried after the
provider's ``Retry-After`` or, without one, exponential backoff with full jitter, for a bounded number of
attempts (``lightfast.embed.resilience``); a circuit breaker per client fails calls fast once a provider
keeps failing. Every failure is an ``UpstreamError`` whose message names the provider and what happened,
so a job fails with that message recorded and a search answers 502 with it. Other 4xx answers (a bad
key, a refused request) are not retried: trying again cannot help.

The API key goes into the ``Authorization`` header and nowhere else: it is not in a log line, an
exception or a repr, and a provider's error message is scrubbed of it before it is shown.

Requests and tokens are counted per provider and model in ``ProviderUsage``, which ``/metrics`` exports.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from lightfast.embed.resilience import (
    BreakerConfig,
    BreakerState,
    RetryPolicy,
    breaker_admit,
    breaker_failure,
    breaker_retry_in,
    breaker_success,
    parse_retry_after,
    retry_delay,
)
from lightfast.errors import UpstreamError

_log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 300  # of a provider's own error message, shown to the user
MAX_ANSWER_BYTES = 256 * 1024 * 1024  # 2,048 x 3,072 floats as JSON text is ~130 MB; more is not an answer


#: Requests by (provider, model, outcome), billed tokens and rerank search units by (provider, model).
UsageCounts = tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], int], dict[tuple[str, str], int]]


@dataclass
class ProviderUsage:
    """Requests (by outcome) and billed tokens per (provider, model), summed by this process. Thread-safe;
    read by ``/metrics`` at scrape time."""

    requests: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (provider, model, outcome)
    tokens: dict[tuple[str, str], int] = field(default_factory=dict)  # billed input tokens
    search_units: dict[tuple[str, str], int] = field(default_factory=dict)  # Cohere rerank's billing unit
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_request(self, provider: str, model: str, outcome: str) -> None:
        with self._lock:
            key = (provider, model, outcome)
            self.requests[key] = self.requests.get(key, 0) + 1

    def count_tokens(self, provider: str, model: str, tokens: int) -> None:
        if tokens > 0:
            with self._lock:
                self.tokens[(provider, model)] = self.tokens.get((provider, model), 0) + tokens

    def count_search_units(self, provider: str, model: str, units: int) -> None:
        if units > 0:
            with self._lock:
                key = (provider, model)
                self.search_units[key] = self.search_units.get(key, 0) + units

    def snapshot(self) -> UsageCounts:
        with self._lock:
            return dict(self.requests), dict(self.tokens), dict(self.search_units)

    def drain(self) -> UsageCounts:
        """What was counted since the last drain, and start again from zero (a search worker process
        hands its counts to the server with each answer)."""
        with self._lock:
            counts = self.requests, self.tokens, self.search_units
            self.requests, self.tokens, self.search_units = {}, {}, {}
            return counts

    def add(self, counts: UsageCounts) -> None:
        """Add counts another process drained."""
        requests, tokens, search_units = counts
        with self._lock:
            for key, count in requests.items():
                self.requests[key] = self.requests.get(key, 0) + count
            for pair, count in tokens.items():
                self.tokens[pair] = self.tokens.get(pair, 0) + count
            for pair, count in search_units.items():
                self.search_units[pair] = self.search_units.get(pair, 0) + count


@dataclass(frozen=True)
class HttpTimings:
    """Seconds: ``timeout`` for a whole read/write, ``connect`` to open the connection."""

    timeout: float = 60.0
    connect: float = 10.0


class CircuitBreaker:
    """The breaker's state behind a lock; the transitions are the pure functions of ``resilience``."""

    def __init__(self, config: BreakerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self._state = BreakerState()
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        return self._state

    def admit(self) -> float | None:
        """None when a call may go out; else the seconds until the breaker lets one through."""
        with self._lock:
            now = self.clock()
            allowed, self._state = breaker_admit(self._state, now, self.config)
            return None if allowed else breaker_retry_in(self._state, now, self.config)

    def succeeded(self) -> None:
        with self._lock:
            self._state = breaker_success(self._state)

    def failed(self) -> None:
        with self._lock:
            self._state = breaker_failure(self._state, self.clock(), self.config)


class ProviderClient:
    """JSON over HTTPS to one provider's base URL, with retries, a breaker and usage counting."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        api_key: SecretStr | None = None,
        timings: HttpTimings | None = None,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        usage: ProviderUsage | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(BreakerConfig())
        self.usage = usage if usage is not None else ProviderUsage()
        self.sleep, self.now, self.draw = sleep, now, draw
        self._secret = api_key.get_secret_value() if api_key is not None else ""
        timings = timings or HttpTimings()
        headers = {"Accept": "application/json", "User-Agent": "lightfast"}
        if self._secret:
            headers["Authorization"] = f"Bearer {self._secret}"
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timings.timeout, connect=min(timings.connect, timings.timeout)),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:  # the key stays out of every repr and log line
        return f"ProviderClient({self.provider!r}, {self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def _scrub(self, text: str) -> str:
        text = text[:MAX_ERROR_CHARS]
        return text.replace(self._secret, "[key]") if self._secret else text

    def post_json(self, path: str, body: dict[str, Any], *, model: str) -> Any:
        """The decoded JSON answer of ``POST base_url + path``; else UpstreamError naming the provider."""
        url = f"{self.base_url}{path}"
        attempt = 0
        problem = ""
        while True:
            wait_breaker = self.breaker.admit()
            if wait_breaker is not None:
                self.usage.count_request(self.provider, model, "circuit_open")
                last = f" (last: {problem})" if problem else ""
                raise UpstreamError(
                    f"{self.provider} is failing repeatedly{last}; calls are paused for {wait_breaker:.0f} s "
                    "(circuit open)",
                    provider=self.provider,
                )
            retry_after: float | None = None
            try:
                answer = self._http.post(url, json=body)
            except httpx.TimeoutException:
                self.breaker.failed()
                self.usage.count_request(self.provider, model, "timeout")
                problem, status = f"{self.provider} did not answer in time ({path})", None
            except httpx.HTTPError as exc:
                self.breaker.failed()
                self.usage.count_request(self.provider, model, "unreachable")
                problem, status = f"{self.provider} could not be reached ({type(exc).__name__})", None
            except BaseException:
                # Not the provider's doing (a body that is not JSON, an interrupt): still report the
                # call, or a half-open breaker would wait for its trial forever.
                self.breaker.failed()
                raise
            else:
                status = answer.status_code
                if status < 300:
                    self.breaker.succeeded()
                    self.usage.count_request(self.provider, model, "ok")
                    return self._decode(answer, path)
                message = self._error_message(answer)
                if status == 429:
                    # Rate limited: the provider is up, so this does not count towards the breaker.
                    self.breaker.succeeded()
                    self.usage.count_request(self.provider, model, "rate_limited")
                    retry_after = parse_retry_after(answer.headers.get("retry-after"), self.now())
                    problem = f"{self.provider} rate-limited the request (429){message}"
                elif status >= 500:
                    self.breaker.failed()
                    self.usage.count_request(self.provider, model, "server_error")
                    # A 503 may name when to come back (RFC 9110 §10.2.3); other 5xx back off.
                    retry_after = parse_retry_after(answer.headers.get("retry-after"), self.now())
                    problem = f"{self.provider} answered {status}{message}"
                else:
                    self.breaker.succeeded()  # it answered: a refusal is ours to fix, not an outage
                    self.usage.count_request(self.provider, model, "refused")
                    hint = " (check the API key)" if status in (401, 403) else ""
                    raise UpstreamError(
                        f"{self.provider} refused the request ({status}){hint}{message}",
                        status=status,
                        provider=self.provider,
                    )
            delay = retry_delay(attempt, retry_after, self.policy, self.draw())
            if delay is None:
                if retry_after is not None and attempt + 1 < self.policy.attempts:
                    problem += f"; it asked to wait {retry_after:.0f} s, longer than allowed"
                raise UpstreamError(
                    f"{problem}; gave up after {attempt + 1} attempt(s)",
                    status=status,
                    provider=self.provider,
                )
            _log.warning("%s; retrying in %.2f s (attempt %d)", problem, delay, attempt + 1)
            self.sleep(delay)
            attempt += 1

    def _error_message(self, answer: httpx.Response) -> str:
        """The provider's own words, from its documented error shapes: ``{"message"}`` (Cohere),
        ``{"error": {"message"}}`` (OpenAI), ``{"error": "..."}`` (text-embeddings-inference)."""
        try:
            payload = answer.json()
        except ValueError:
            return ""
        message: Any = None
        if isinstance(payload, dict):
            message = payload.get("message") or payload.get("detail")
            error = payload.get("error")
            if isinstance(error, dict):
                message = error.get("message") or message
            elif isinstance(error, str):
                message = error
        return f": {self._scrub(str(message))}" if message else ""

    def _decode(self, answer: httpx.Response, path: str) -> Any:
        if len(answer.content) > MAX_ANSWER_BYTES:
            raise UpstreamError(f"{self.provider}'s answer to {path} is too large", provider=self.provider)
        try:
            return json.loads(answer.content)
        except ValueError:
            raise UpstreamError(
                f"{self.provider}'s answer to {path} is not JSON", provider=self.provider
            ) from None


def need(condition: bool, provider: str, what: str) -> None:
    """Validate a provider's answer: UpstreamError naming the provider and the broken expectation."""
    if not condition:
        raise UpstreamError(f"{provider}'s answer is malformed: {what}", provider=provider)


def float_rows(rows: Any, count: int, provider: str) -> list[list[float]]:
    """``count`` lists of numbers of one length, checked before use: a provider's answer is not trusted."""
    need(isinstance(rows, list) and len(rows) == count, provider, f"expected {count} vectors")
    width: int | None = None
    for row in rows:
        need(isinstance(row, list) and len(row) > 0, provider, "a vector is not a list of numbers")
        width = len(row) if width is None else width
        need(len(row) == width, provider, "vectors of different lengths")
        need(
            all(isinstance(x, int | float) and not isinstance(x, bool) for x in row),
            provider,
            "a vector holds something other than numbers",
        )
    return rows  # type: ignore[no-any-return]
