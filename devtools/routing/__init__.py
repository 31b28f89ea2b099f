"""Routing training and the recorded data it learns from (not shipped)."""
