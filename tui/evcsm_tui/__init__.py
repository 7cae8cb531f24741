"""EVCSM terminal dashboard."""
