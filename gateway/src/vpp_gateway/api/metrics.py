"""Prometheus metrics written by hand in the text exposition format 0.0.4 (no extra dependency).

* ``vpp_http_requests_total{method,route,status}`` — counter
* ``vpp_http_request_duration_seconds{method,route}`` — histogram
* ``vpp_http_requests_in_flight`` — gauge
* ``vpp_ledger_submit_duration_seconds{function,outcome}`` — histogram of ledger submits (endorse → commit)
* ``vpp_ledger_evaluate_duration_seconds{function,outcome}`` — histogram of ledger queries

``route`` is the route template (``/api/v1/sites/{site_id}``), never the raw path, so the label set stays bounded.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict

from falcon.asgi import Request, Response

__all__ = ["Histogram", "Metrics", "MetricsMiddleware"]

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_INF = 'le="+Inf"'
LEDGER_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Histogram:
    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...], buckets: tuple[float, ...]):
        self.name, self.help, self.label_names, self.buckets = name, help_text, label_names, buckets
        self._series: dict[tuple[str, ...], list] = {}

    def observe(self, labels: tuple[str, ...], seconds: float) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = [[0] * len(self.buckets), 0, 0.0]  # per-bucket counts, count, sum
        index = bisect.bisect_left(self.buckets, seconds)
        if index < len(self.buckets):
            series[0][index] += 1
        series[1] += 1
        series[2] += seconds

    def expose(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for labels, (counts, count, total) in sorted(self._series.items()):
            cumulative = 0
            for bound, n in zip(self.buckets, counts, strict=True):
                cumulative += n
                le = f'le="{bound}"'
                lines.append(f"{self.name}_bucket{_labels(self.label_names, labels, le)} {cumulative}")
            lines.append(f"{self.name}_bucket{_labels(self.label_names, labels, _INF)} {count}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, labels)} {total:.6f}")
            lines.append(f"{self.name}_count{_labels(self.label_names, labels)} {count}")
        return lines


class Metrics:
    """The gateway's metrics; one instance per app (tests build several apps in one process)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.in_flight = 0
        self.http = Histogram("vpp_http_request_duration_seconds", "HTTP request latency by route.",
                              ("method", "route"), HTTP_BUCKETS)
        self.submit = Histogram("vpp_ledger_submit_duration_seconds", "Ledger submit latency (endorse to commit).",
                                ("function", "outcome"), LEDGER_BUCKETS)
        self.evaluate = Histogram("vpp_ledger_evaluate_duration_seconds", "Ledger evaluate latency.",
                                  ("function", "outcome"), LEDGER_BUCKETS)

    def record_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, str(status))] += 1
        self.http.observe((method, route), seconds)

    def expose(self) -> str:
        lines = ["# HELP vpp_http_requests_total HTTP requests by method, route and status.",
                 "# TYPE vpp_http_requests_total counter"]
        for labels, count in sorted(self.requests.items()):
            lines.append(f"vpp_http_requests_total{_labels(('method', 'route', 'status'), labels)} {count}")
        lines += ["# HELP vpp_http_requests_in_flight HTTP requests being served.",
                  "# TYPE vpp_http_requests_in_flight gauge", f"vpp_http_requests_in_flight {self.in_flight}"]
        for histogram in (self.http, self.submit, self.evaluate):
            lines += histogram.expose()
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Counts every request, including the ones refused before a responder ran."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def process_request(self, req: Request, resp: Response) -> None:
        req.context.started = time.perf_counter()
        self.metrics.in_flight += 1

    async def process_response(self, req: Request, resp: Response, resource: object, req_succeeded: bool) -> None:
        started = getattr(req.context, "started", None)
        if started is None:
            return
        self.metrics.in_flight -= 1
        route = req.uri_template or ("static" if resource is None and resp.status_code < 400 else "unmatched")
        self.metrics.record_request(req.method, route, resp.status_code, time.perf_counter() - started)
