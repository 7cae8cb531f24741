"""Session storage in MongoDB (PyMongo's async API) or the in-process store."""

from evcsm_daemon.store.connect import open_store, redact_uri
from evcsm_daemon.store.sessions import SessionStore

__all__ = ["SessionStore", "open_store", "redact_uri"]
