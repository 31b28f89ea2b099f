"""Multi-model patterns as reusable node logic: debate + judge, cascade, speculative, JSON."""
