"""The REST API (FastAPI): seed-compatible routes, chargers, sessions, health, Swagger UI."""

from evcsm_daemon.api.app import create_app

__all__ = ["create_app"]
