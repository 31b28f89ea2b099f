"""Provider faults of every kind on every tier, alone and mixed at 30%, on Postgres: no run
succeeds with a wrong answer, every request the provider received is on the books, and
each run's cost is the sum of its ledger rows. (`benchmarks/fault_soak.py` runs more.)"""

from __future__ import annotations

import pytest

from devtools.bench.fault_soak import alone, mixed, problems, run_scenarios

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def test_faults_on_every_tier_never_give_a_wrong_success(postgres_url: str) -> None:
    scenarios = [*alone(runs=2), mixed(runs=40)]
    results = await run_scenarios(postgres_url, scenarios, concurrency=8, model_timeout_s=2.0)

    assert sum(result.report.runs for result in results) >= 70
    found = [problem for result in results for problem in problems(result)]
    assert found == [], found
    by_name = {result.scenario.name: result for result in results}
    # The faults really fired, and the ones that spoil an answer were caught as such.
    assert all(result.faults_fired > 0 for result in results), {
        name: result.faults_fired for name, result in by_name.items()
    }
    assert by_name["malformed_json on edge-a"].invalid_outputs > 0
    assert by_name["malformed_json on mid-a"].invalid_outputs > 0
    assert by_name["malformed_json on frontier-a"].invalid_outputs > 0
    assert by_name["mixed 30%"].report.statuses == {"succeeded": 40}
