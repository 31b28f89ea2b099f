"""A JSON object column with some keys set, computed by the database in the statement that
writes it (no read of the old value first): `||` on PostgreSQL's JSONB, `json_patch` on
SQLite. Only for flat values: SQLite's merge patch would drop a key set to null."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from app.db.models import JSONType


class json_merged(FunctionElement[Any]):
    """`column` with the top-level keys of `keys` set (a dict, or a JSON bound parameter
    for a statement built once and run with many values)."""

    type = JSONType
    inherit_cache = True

    def __init__(
        self,
        column: ColumnElement[Any] | InstrumentedAttribute[Any],
        keys: dict[str, str] | BindParameter[Any],
    ) -> None:
        super().__init__(
            column, keys if isinstance(keys, BindParameter) else literal(keys, JSONType)
        )


@compiles(json_merged, "postgresql")
def _postgres(element: json_merged, compiler: SQLCompiler, **kw: Any) -> str:
    column, keys = element.clauses
    return f"({compiler.process(column, **kw)} || {compiler.process(keys, **kw)})"


@compiles(json_merged, "sqlite")
def _sqlite(element: json_merged, compiler: SQLCompiler, **kw: Any) -> str:
    column, keys = element.clauses
    return f"json_patch({compiler.process(column, **kw)}, {compiler.process(keys, **kw)})"
