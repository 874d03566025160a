"""Prometheus metrics of this process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("deskchat_http_requests_total", "HTTP requests", ["method", "status"])
HTTP_LATENCY = Histogram("deskchat_http_request_seconds", "HTTP request latency", ["method"])
WEBSOCKETS = Gauge("deskchat_websockets", "Live WebSocket connections of this process")
EVENTS = Counter("deskchat_events_delivered_total", "Events routed to this process's sockets")
