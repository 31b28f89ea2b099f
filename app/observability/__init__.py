"""Metrics (Prometheus) and traces (OpenTelemetry): built at start-up, handed down."""
