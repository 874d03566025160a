"""Prometheus metrics of this process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("deskchat_http_requests_total", "HTTP requests", ["method", "status"])
HTTP_LATENCY = Histogram("deskchat_http_request_seconds", "HTTP request latency", ["method"])
WEBSOCKETS = Gauge("deskchat_websockets", "Live WebSocket connections of this process")
EVENTS = Counter("deskchat_events_delivered_total", "Events routed to this process's sockets")
OUTBOX_DEPTH = Gauge("deskchat_outbox_pending", "Email and webhook deliveries waiting to be sent (all processes)")
OUTBOX_OLDEST_SECONDS = Gauge("deskchat_outbox_oldest_pending_seconds",
                              "Age of the oldest pending email or webhook delivery")
OUTBOX_DELIVERIES = Counter("deskchat_outbox_deliveries_total", "Delivery attempts of this process, by outcome",
                            ["kind", "outcome"])
WAITING_CHATS = Gauge("deskchat_waiting_chats", "Chats waiting for a technician, per group (all processes)", ["group"])
WAIT_SECONDS = Histogram("deskchat_chat_wait_seconds", "Seconds from a chat's start to its pickup or assignment",
                         buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600))
