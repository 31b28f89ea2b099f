"""Tenants: whose runs, graph versions and ledger rows these are."""

from __future__ import annotations

# The tenant of the embedded service when no API key exists (auth is off on loopback).
DEFAULT_TENANT = "default"
