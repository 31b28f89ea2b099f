"""Full-size kill soak on Postgres (see devtools/bench/kill_soak.py): prints what happened.

python benchmarks/kill_soak.py [--runs 100] [--workers 3] [--concurrency 16] [--drops 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from pathlib import Path

import psycopg

from devtools.bench.kill_soak import run_soak

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--drops", type=int, default=3, help="times every connection is dropped")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    name = f"rg_soak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as logs:
            report = await run_soak(
                f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
                Path(logs),
                runs=args.runs,
                workers=args.workers,
                concurrency=args.concurrency,
                drop_connections=args.drops,
                seed=args.seed,
            )
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        f"runs {report.runs}, {report.seconds:.0f} s, {report.kills} SIGKILLs, "
        f"{report.connection_drops} connection drops"
    )
    print(f"statuses {dict(report.statuses)}; wrong answers {report.wrong_answers}")
    print(
        f"provider requests {report.provider_requests}, ledger rows {report.ledger_rows} "
        f"({report.lost_rows} lost: in flight when their worker died)"
    )
    print(
        f"call keys paid twice {report.keys_paid_twice}; cost mismatches {report.cost_mismatches}"
    )
    print(f"event order errors {len(report.event_order_errors)}")
    print("PROBLEMS: " + "; ".join(report.problems()) if report.problems() else "no problems")


if __name__ == "__main__":
    asyncio.run(main())
