"""The LangGraph Server API (Agent Protocol) at the root paths LangGraph's server uses.

`langgraph_sdk`, `RemoteGraph` and LangGraph UIs talk to it unchanged; runs started here
are routegraph runs (routing, ledger, budgets, tenants, timeline, replay). Routers are
gathered by `app/api/langgraph/mount.py`; errors are `{"detail": ...}` (`errors.py`).
"""
