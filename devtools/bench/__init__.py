"""Offline benchmarks on recorded real model outputs (no model is called)."""
