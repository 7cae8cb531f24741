"""Session storage behind one boundary (`SessionStore`): MongoDB, a SQLite file, or memory."""

from evcsm_daemon.store.base import SessionStore
from evcsm_daemon.store.connect import BACKENDS, check_uri, open_store, redact_uri

__all__ = ["BACKENDS", "SessionStore", "check_uri", "open_store", "redact_uri"]
