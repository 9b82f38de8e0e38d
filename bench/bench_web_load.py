"""Load test of the dashboard on localhost: N concurrent signed-in users for T seconds, latency percentiles.

The real server (``apmkit serve`` in its own process, SQLite app state) serves a run started through its own API
on a synthetic population. Each simulated user signs in once, then loops over the read paths a payer or provider
uses: the run page (summary), a statement (every traced line), its benchmark build-up, a page of members, a page
of attribution (both audited), the statement API and the health check. The baseline is the static stylesheet on
the same server (the cost of any request). Half the users are providers scoped to one TIN.

Usage: ``.venv/bin/python bench/bench_web_load.py [--members 20000] [--users 50] [--seconds 60]``
(``--tiny``: 300 members, 5 users, 3 s). Prints p50/p95/max per request kind and the machine's load average
during the load; exits 1 on any error.

``--run RUN --data DATA`` serves a COPY of an existing run folder (``apmkit run --out RUN`` on ``DATA``) instead
of synthesizing a population and running it through the API - the 1M-member measurement::

    bench/bench_web_load.py --run /tmp/apmkit-bench/run-1000000 --data /tmp/apmkit-bench/synth-1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)

from apmkit.contracts import parse_contract
from apmkit.synth import generate
from apmkit.web.state import AppState, default_state_url
from apmkit.workspace.run_marts import run_stages

CONTRACT = """
id: load_test
name: load test
attribution: {method: plurality, name: t, basis: visits, level: tin, lookback_months: 12, minimum_panel: 20}
benchmark:
  method: general
  general: {base_years: [2024], performance_year: 2025, annual_trend: "0.04", regional_weight: "0.25",
            full_credibility_member_months: 12000}
definitions: {cost_basis: allowed_amount, truncation: {method: amount, amount: 100000}, runout_months: 3}
components:
  - id: shared_savings
    type: shared_savings
    clause: "load test section 5"
    terms: {sided: one_sided, minimum_savings_rate: {kind: fixed, rate: 0.02}, sharing_basis: first_dollar,
            max_sharing_rate: 0.50, savings_cap: {pct_of_benchmark: 0.10}}
"""
PASSWORD = "load-test-password"
REPORTS = ("attribution", "performance", "utilization")
"""Report pages in the mix; each is built once per scope before the timed load (its first-build time is printed)."""
BASELINE = "static (baseline)"
"""The cheapest request (a static file): what the load alone costs each request."""
APMKIT = [sys.executable, "-m", "apmkit.cli.main", "--quiet"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _user(
    think: float,
    base: str,
    name: str,
    run_id: str,
    entities: list[str],
    reports: list[str],
    until: float,
    timings: dict[str, list[float]],
    errors: list[str],
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        signed = await client.post("/api/v1/login", json={"username": name, "password": PASSWORD})
        if signed.status_code != 200:
            errors.append(f"sign-in {name}: {signed.status_code}")
            return
        entity = entities[0] if name.startswith("provider") else random.choice(entities)
        paths = {
            "run page": f"/ui/runs/{run_id}",
            "statement page": f"/ui/runs/{run_id}/statements/{entity}",
            "benchmark page": f"/ui/runs/{run_id}/statements/{entity}/benchmark",
            "members page": f"/ui/runs/{run_id}/members?entity={entity}&page={{page}}",
            "attribution page": f"/ui/runs/{run_id}/attribution?entity={entity}&page={{page}}",
            "statement API": f"/api/v1/runs/{run_id}/statements/{entity}",
            "report page": f"/ui/runs/{run_id}/reports/{{report}}",
            "health": "/api/v1/health",
            BASELINE: "/static/app.css",
        }
        while time.monotonic() < until:
            kind = random.choice(list(paths))
            path = paths[kind].format(page=random.randint(1, 3), report=random.choice(reports))
            start = time.perf_counter()
            response = await client.get(path)
            timings[kind].append(time.perf_counter() - start)
            if response.status_code != 200:
                errors.append(f"{kind}: {response.status_code}")
            if think:
                await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))


async def _load(
    think: float,
    base: str,
    users: list[str],
    run_id: str,
    entities: list[str],
    seconds: float,
    reports: list[str],
) -> tuple[dict[str, list[float]], list[str], float, list[float]]:
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    loads: list[float] = []
    start = time.monotonic()

    async def sample_load() -> None:
        while time.monotonic() < start + seconds:
            loads.append(os.getloadavg()[0])
            await asyncio.sleep(5)

    await asyncio.gather(
        sample_load(),
        *(_user(think, base, u, run_id, entities, reports, start + seconds, timings, errors) for u in users),
    )
    return timings, errors, time.monotonic() - start, loads


def _import_run(run: Path, workdir: Path) -> str:
    """A finished run job in the server's state whose folder is a copy of ``run`` (never written in place)."""
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    contract = parse_contract(info["contract_yaml"], source="run.json") if "contract_yaml" in info else None
    period = str(info.get("period", ""))
    steps = len(run_stages(contract, period)) if contract is not None else 1
    state = AppState(default_state_url(workdir))
    job = state.create_job("run", "analyst", str(info.get("contract_id", "run")), period, steps=steps)
    state.update_job(job.id, status="done", stage="done", steps_done=steps)
    state.close()
    shutil.copytree(run, workdir / "runs" / job.id)
    return job.id


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean pause of a user between requests, s (uniform 0.5x-1.5x; 0 = back to back, a saturation test)",
    )
    parser.add_argument("--reports", nargs="+", default=list(REPORTS), help="report pages in the mix")
    parser.add_argument("--run", type=Path, help="serve a copy of this run folder (with --data) instead")
    parser.add_argument("--data", type=Path, help="the canonical tables the --run was made from")
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=300, users=5, seconds=3, think=0.2)
    if (args.run is None) != (args.data is None):
        parser.error("--run and --data go together")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data, workdir = root / "data", root / "work"
        started = time.perf_counter()
        if args.run is None:
            generate(args.members, data, years=2, seed=5)
        else:
            data = args.data
        synth_seconds = time.perf_counter() - started
        env = {**os.environ, "APMKIT_WEB_SECRET": "load-test-secret"}
        subprocess.run(
            [
                *APMKIT,
                "users",
                "add",
                "analyst",
                "--role",
                "payer_analyst",
                "--password-stdin",
                "--workdir",
                str(workdir),
            ],
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
        imported = None
        if args.run is not None:
            started = time.perf_counter()
            imported = _import_run(args.run, workdir)
            synth_seconds = time.perf_counter() - started
        port = _free_port()
        server = subprocess.Popen(
            [*APMKIT, "serve", "--data", str(data), "--workdir", str(workdir), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/api/v1/health")
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.2)
            with httpx.Client(base_url=base, timeout=60) as client:
                csrf = client.post(
                    "/api/v1/login", json={"username": "analyst", "password": PASSWORD}
                ).json()["csrf_token"]
                started = time.perf_counter()
                if imported is not None:
                    job = client.get(f"/api/v1/runs/{imported}").json()
                else:
                    job = client.post(
                        "/api/v1/runs",
                        json={"contract": CONTRACT, "period": "2025"},
                        headers={"X-CSRF-Token": csrf},
                    ).json()
                while job["status"] not in ("done", "failed"):
                    time.sleep(0.5)
                    job = client.get(f"/api/v1/runs/{job['id']}").json()
                run_seconds = time.perf_counter() - started
                if job["status"] != "done":
                    raise SystemExit(f"the run failed: {job['error']}")
                entities = [
                    e["entity_id"] for e in client.get(f"/api/v1/runs/{job['id']}/summary").json()["entities"]
                ]
            # half analysts, half providers of the largest entity's TIN (entity = TIN at TIN-level attribution)
            # (added in this process on the same SQLite file the server reads: 50 CLI starts would take minutes)
            state = AppState(default_state_url(workdir))
            names = []
            for index in range(args.users):
                name = f"provider{index}" if index % 2 else f"analyst{index}"
                if index % 2:
                    state.add_user(name, "provider", PASSWORD, tins=[entities[0]])
                else:
                    state.add_user(name, "payer_analyst", PASSWORD)
                names.append(name)
            state.close()
            # First builds of the report pages (the server caches each per run and request) and first reads of
            # the marts each scope reads (the server keeps each): analyst and provider side by side.
            builds: dict[str, float] = {}

            def warm(name: str) -> None:
                who = name.rstrip("0123456789")
                with httpx.Client(base_url=base, timeout=3600) as client:
                    client.post("/api/v1/login", json={"username": name, "password": PASSWORD})
                    started = time.perf_counter()
                    for page in ("", "/members?page=1", "/attribution?page=1"):
                        answer = client.get(f"/ui/runs/{job['id']}{page}")
                        if answer.status_code != 200:
                            raise SystemExit(f"run page {page}: {answer.status_code}")
                    builds[f"marts ({who})"] = time.perf_counter() - started
                    for report in args.reports:
                        started = time.perf_counter()
                        answer = client.get(f"/ui/runs/{job['id']}/reports/{report}")
                        if answer.status_code != 200:
                            raise SystemExit(f"report {report}: {answer.status_code}")
                        builds[f"{report} ({who})"] = time.perf_counter() - started

            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(warm, sorted({names[0], names[1] if len(names) > 1 else names[0]})))
            timings, errors, elapsed, loads = asyncio.run(
                _load(args.think, base, names, job["id"], entities, args.seconds, args.reports)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)

    total = sum(len(v) for v in timings.values())
    if args.run is None:
        print(
            f"population: {args.members:,} members, 2 years (synth {synth_seconds:.1f} s); run through the API: {run_seconds:.1f} s"
        )
    else:
        print(f"run: a copy of {args.run} on {args.data} (copied in {synth_seconds:.1f} s)")
    print(
        f"machine: {os.cpu_count()} cores; 1-min load average during the load: "
        f"mean {statistics.mean(loads or [0]):.1f}, max {max(loads or [0]):.1f}"
    )
    print(
        f"load: {args.users} concurrent users (think time {args.think:g} s) for {elapsed:.1f} s: {total:,} requests = {total / elapsed:,.1f}/s, errors: {len(errors)}"
    )
    print(
        "first build of each report page (and first reads of the marts): "
        + ", ".join(f"{k} {v:.1f} s" for k, v in builds.items())
    )
    # The static stylesheet is the cheapest request the server answers: on a shared machine its p95 is what the
    # load alone costs, so each kind's p95 over it is the figure that compares across runs.
    static = timings.get(BASELINE)
    static_p95 = _percentile(static, 0.95) if static else None
    print(f"{'request':<20} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'p95 / static p95':>17}")
    everything: list[float] = []
    for kind in sorted(timings):
        values = timings[kind]
        everything += values
        ratio = f"{_percentile(values, 0.95) / static_p95:.2f}x" if static_p95 else "-"
        print(
            f"{kind:<20} {len(values):>7} {statistics.median(values) * 1000:>8.1f} "
            f"{_percentile(values, 0.95) * 1000:>8.1f} {max(values) * 1000:>8.1f} {ratio:>17}"
        )
    if everything:
        print(
            f"{'all':<20} {len(everything):>7} {statistics.median(everything) * 1000:>8.1f} {_percentile(everything, 0.95) * 1000:>8.1f} {max(everything) * 1000:>8.1f}"
        )
    for error in sorted(set(errors))[:10]:
        print("error:", error)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
