"""Run every benchmark case in one run on this machine, print one table, write JSON.

    python -m benchmarks [--smoke] [--databases sqlite,postgresql] [--out var/bench/results.json]

Needs the broker (KAFKA_BOOTSTRAP_SERVERS) and, for PostgreSQL, TEST_POSTGRES_URL or
deploy/postgres.sh; ``./recovery.sh bench`` starts both first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import baseline, intake, notices, sweep
from benchmarks.common import Bench, postgres_admin_url

FULL = {"receipts": 100_000, "accounts": 20_000, "schedules": 200_000, "notices": 10_000}
SMOKE = {"receipts": 300, "accounts": 100, "schedules": 300, "notices": 24}

INTAKE_TARGET = 0.30  # of the broker baseline
SWEEP_TARGET = 2.0  # times the bare query, at most
NOTICES_TARGET = 0.5  # of the bare renderer
SCALE_OUT_TARGET = 1.5  # two instances over one
RSS_TARGET_MB = 200.0


def say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def judge(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ratios against the baselines measured in this same run, and each target."""
    base = next((r for r in results if r["case"] == "baseline"), None)
    bare = next((r for r in results if r["case"] == "notices: bare renderer"), None)
    verdicts = []
    for r in results:
        if r["case"] == "payment intake" and base is not None:
            r["ratio"] = round(r["rate_per_s"] / base["rate_per_s"], 3)
            r["target"] = f">= {INTAKE_TARGET} of baseline"
            r["met"] = r["ratio"] >= INTAKE_TARGET
        elif r["case"] == "daily sweep":
            r["ratio"] = round(r["seconds"] / r["bare_query_seconds"], 2)
            r["target"] = f"<= {SWEEP_TARGET}x bare query"
            r["met"] = r["ratio"] <= SWEEP_TARGET
        elif r["case"].startswith("notices: ") and bare is not None and r is not bare:
            r["ratio"] = round(r["rate_per_s"] / bare["rate_per_s"], 3)
            r["target"] = f">= {NOTICES_TARGET} of bare renderer"
            r["met"] = r["ratio"] >= NOTICES_TARGET
            if r.get("instances") == 2:
                one = next(x for x in results if x["case"] == "notices: 1 instance" and x["database"] == r["database"])
                r["scale_out"] = round(r["rate_per_s"] / one["rate_per_s"], 2)
                r["target"] += f"; >= {SCALE_OUT_TARGET}x one instance"
                r["met"] = r["met"] and r["scale_out"] >= SCALE_OUT_TARGET
        if "peak_rss_mb" in r:
            r["rss_met"] = r["peak_rss_mb"] < RSS_TARGET_MB
        verdicts.append(r)
    return verdicts


def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'case':26} {'db':10} {'n':>9} {'seconds':>9} {'per s':>10} {'ratio':>8}  "
        f"{'target':40} {'met':5} {'RSS MB':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        ratio = r.get("ratio", "")
        if "scale_out" in r:
            ratio = f"{r['ratio']}/{r['scale_out']}x"
        rss = f"{r['peak_rss_mb']:.0f}" + ("" if r.get("rss_met", True) else "!") if "peak_rss_mb" in r else ""
        met = "" if "met" not in r else ("yes" if r["met"] else "NO")
        lines.append(
            f"{r['case']:26} {r['database']:10} {r['n']:>9} {r['seconds']:>9.2f} {r['rate_per_s']:>10.1f} "
            f"{ratio!s:>8}  {r.get('target', ''):40} {met:5} {rss:>7}"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> int:
    sizes = dict(SMOKE if args.smoke else FULL)
    for name in sizes:
        if getattr(args, name) is not None:
            sizes[name] = getattr(args, name)
    databases = [d for d in args.databases.split(",") if d]
    run = f"B{uuid.uuid4().hex[:5]}"
    workdir = Path(args.workdir) / run
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(
        bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
        workdir=workdir,
        run=run,
        postgres_admin_url=postgres_admin_url() if "postgresql" in databases else None,
        databases=databases,
    )
    say(f"benchmark run {run}: {sizes}, databases {databases}, files under {workdir}")
    results: list[dict[str, Any]] = []
    started = time.monotonic()

    def record(result: dict[str, Any]) -> None:
        results.append(result)
        say(
            f"  {time.monotonic() - started:7.1f}s  {result['case']} [{result['database']}]: "
            f"{result['n']} in {result['seconds']:.2f}s = {result['rate_per_s']:.0f}/s"
        )

    try:
        cases = set(args.cases.split(","))
        if "intake" in cases:
            record(await baseline.run(bench, sizes["receipts"], sizes["accounts"], intake.sample_receipt_bytes()))
        if "notices" in cases:
            record(await asyncio.to_thread(notices.bare_renderer, sizes["notices"]))
        for kind in databases:
            if "intake" in cases:
                for r in await intake.run(bench, kind, sizes["receipts"], sizes["accounts"]):
                    record(r)
            if "sweep" in cases:
                record(await sweep.run(bench, kind, sizes["schedules"]))
            if "notices" in cases:
                record(await notices.run(bench, kind, sizes["notices"], instances=1))
                record(await notices.run(bench, kind, sizes["notices"], instances=2))
    finally:
        bench.drop_databases()
        if not args.keep_files:
            shutil.rmtree(workdir, ignore_errors=True)

    judged = judge(results)
    say("")
    say(table(judged))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "run": run,
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "sizes": sizes,
        "smoke": args.smoke,
        "results": judged,
    }
    out.write_text(json.dumps(document, indent=2) + "\n")
    say(f"\nfigures written to {out} ({time.monotonic() - started:.0f}s in all)")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to prove every case runs")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--cases", default="intake,sweep,notices", help="which cases (intake runs the broker baseline too)"
    )
    parser.add_argument("--receipts", type=int, help=f"receipts and baseline messages (default {FULL['receipts']})")
    parser.add_argument("--accounts", type=int, help=f"accounts the receipts pay (default {FULL['accounts']})")
    parser.add_argument("--schedules", type=int, help=f"live schedules of 10 instalments (default {FULL['schedules']})")
    parser.add_argument("--notices", type=int, help=f"reminders to render (default {FULL['notices']})")
    parser.add_argument("--workdir", default="var/bench")
    parser.add_argument("--out", default="var/bench/results.json")
    parser.add_argument("--keep-files", action="store_true", help="keep the SQLite files and PDFs")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
