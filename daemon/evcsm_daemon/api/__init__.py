"""The REST API (FastAPI): seed-compatible routes, chargers, sessions, health, Swagger UI."""

from evcsm_daemon.api.app import attach, create_app, warm_up

__all__ = ["attach", "create_app", "warm_up"]
