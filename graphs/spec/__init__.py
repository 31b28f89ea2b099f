"""Declarative graph specs: read, validate (every error with its JSON pointer), compile.

document = parse_spec_text(text)                 # YAML or JSON, safely
validated = validate_spec(document, env)         # SpecInvalid(.errors) when wrong
compiled = compile_spec(validated, env)          # input contract + graph factory
graph = compiled.build(checkpointer)
"""

from graphs.spec.compile import CompiledSpec, compile_spec
from graphs.spec.environment import SpecEnvironment, prefetch_subgraphs, subgraph_references
from graphs.spec.errors import SpecError, SpecInputInvalid, SpecInvalid
from graphs.spec.files import check_spec_file
from graphs.spec.model import GraphSpec, spec_json_schema
from graphs.spec.runners import SpecRunError
from graphs.spec.source import format_errors_against_source, parse_spec_text, pointer_to_line
from graphs.spec.validate import ValidatedSpec, validate_spec

__all__ = [
    "CompiledSpec",
    "GraphSpec",
    "SpecEnvironment",
    "SpecError",
    "SpecInputInvalid",
    "SpecInvalid",
    "SpecRunError",
    "ValidatedSpec",
    "check_spec_file",
    "compile_spec",
    "format_errors_against_source",
    "parse_spec_text",
    "pointer_to_line",
    "prefetch_subgraphs",
    "spec_json_schema",
    "subgraph_references",
    "validate_spec",
]
