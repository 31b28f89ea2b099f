"""The recorded-output data ships in benchmarks/data: a test that cannot find it fails."""

from __future__ import annotations

from typing import NoReturn

import pytest

from app.routing.datasets import DataMissingError


def data_missing(exc: DataMissingError) -> NoReturn:
    pytest.fail(f"the routing data shipped in benchmarks/data/routellm is missing: {exc}")
