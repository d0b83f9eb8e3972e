"""Request metrics for Prometheus, served on their own port (`serve --metrics-port`).

Counted where the facts are already known: the canonical request log line (route
template, method, status, time), the problem handler (auth refusals by code, rate-limit
refusals), the trace routes (values looked up). Workers write to a shared directory
(prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR set by `serve`), and
the serving parent process answers scrapes: the public port never shows them.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_LABELS = ("route", "method", "status")
REQUESTS = Counter("registry_http_requests", "HTTP requests answered, by route template, "
                   "method and status.", _LABELS)
LATENCY = Histogram(
    "registry_http_request_seconds", "Time to answer a request, by route template, method "
    "and status.", _LABELS,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
AUTH_REFUSALS = Counter("registry_auth_refusals", "Requests refused 401, by the API.md §2 "
                        "code.", ("code",))
RATE_LIMITED = Counter("registry_rate_limited", "Requests refused 429 rate_limited, by "
                       "route template.", ("route",))
# Each label set's child, kept: `labels()` takes a lock and builds a key on every call,
# and these run once per answer. Route templates are few (unmatched paths share one).
_answered: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
_traced: dict[str, Counter] = {}
TRACE_LOOKUPS = Counter("registry_trace_lookups", "Values traced, by endpoint (single GET, "
                        "batch POST).", ("endpoint",))


def answered(route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status)
    children = _answered.get(key)
    if children is None:
        labels = (route, method, str(status))
        children = _answered[key] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
    children[0].inc()
    children[1].observe(seconds)


def refused(status: int, code: str, route: str) -> None:
    if status == 401:
        AUTH_REFUSALS.labels(code).inc()
    elif code == "rate_limited":
        RATE_LIMITED.labels(route).inc()


def traced(endpoint: str, values: int = 1) -> None:
    counter = _traced.get(endpoint)
    if counter is None:
        counter = _traced[endpoint] = TRACE_LOOKUPS.labels(endpoint)
    counter.inc(values)
