"""Thin REST routes and the WebSocket endpoint."""
