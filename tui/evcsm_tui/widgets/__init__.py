"""Widgets, one per area of the screen."""
