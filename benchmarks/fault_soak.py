"""Fault soak on Postgres (see devtools/bench/fault_soak.py): every fault kind on the first
model of every tier alone, then all of them mixed; prints per scenario what happened.

python benchmarks/fault_soak.py [--alone-runs 5] [--mixed-runs 200] [--probability 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

import psycopg

from devtools.bench.fault_soak import alone, mixed, problems, run_scenarios

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alone-runs", type=int, default=5)
    parser.add_argument("--mixed-runs", type=int, default=200)
    parser.add_argument("--probability", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    name = f"rg_faults_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        results = await run_scenarios(
            f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
            [*alone(args.alone_runs), mixed(args.mixed_runs, args.probability)],
            concurrency=args.concurrency,
            seed=args.seed,
            timeout_s=1800,
        )
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    header = f"{'scenario':<28} {'runs':>4} {'ok':>4} {'wrong':>5} {'faults':>6} "
    print(header + f"{'invalid':>7} {'requests':>8} {'rows':>5} {'cost≠':>5} {'s':>5}")
    found = []
    for result in results:
        report = result.report
        print(
            f"{result.scenario.name:<28} {report.runs:>4} "
            f"{report.statuses.get('succeeded', 0):>4} {report.wrong_answers:>5} "
            f"{result.faults_fired:>6} {result.invalid_outputs:>7} "
            f"{report.provider_requests:>8} {report.ledger_rows:>5} "
            f"{report.cost_mismatches:>5} {result.seconds:>5.1f}"
        )
        for error, count in result.errors.items():
            print(f"    {count} x {error}")
        found.extend(problems(result))
    total = sum(result.report.runs for result in results)
    wrong = sum(result.report.wrong_answers for result in results)
    print(f"{total} runs, {wrong} wrong answers reported as success")
    print("PROBLEMS: " + "; ".join(found) if found else "no problems")


if __name__ == "__main__":
    asyncio.run(main())
