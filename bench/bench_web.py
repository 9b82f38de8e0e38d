"""Web layer throughput, measured against baselines in the same run (real uvicorn server over HTTP).

1. Design runs: ``POST /api/v1/design`` (draft, classify, simulate on a synthetic population, document, save)
   against a baseline that calls the same library path directly (``draft_contract`` -> ``measure_population``
   -> ``assemble_design``) on the same population: the ratio is what the web layer adds.
2. Result pages: ``GET /ui/designs/<id>`` (templates, PTAC review, chart specs) against ``GET
   /static/app.css`` on the same server (the cost of any request).
3. Sign-ins: ``POST /api/v1/login`` (one scrypt check each) against the result-page request rate.

Usage: ``.venv/bin/python bench/bench_web.py [--members 5000] [--runs 5] [--pages 100]``.
Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from _size import add_tiny_flag, shrink  # bench/_size.py (the script's folder is on sys.path)
from typer.testing import CliRunner

from apmkit.cli.main import app as cli_app
from apmkit.design.pipeline import assemble_design, measure_population
from apmkit.design.worksheet import draft_contract, parse_answers
from apmkit.engines import Engine
from apmkit.web.app import WebSettings, create_app
from apmkit.web.auth import add_user

ANSWERS = {
    "name": "Bench ACO",
    "starting_point": "pioneer",
    "quality": {"measures": ["CMS165", "ACR"]},
    "cehrt_share": 0.8,
    "capability": {"data": 3, "care_management": 3, "quality": 3, "financial_reserves": 3, "experience": 3},
    "simulation": {"period": "2025", "scenarios": 200},
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rate(count: int, seconds: float) -> str:
    return f"{count} in {seconds:.2f} s = {count / seconds:,.1f}/s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", type=int, default=100)
    add_tiny_flag(parser)
    args = shrink(parser.parse_args(), members=200, runs=1, pages=2)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        population = root / "pop"
        made = CliRunner().invoke(
            cli_app,
            [
                "--quiet",
                "synth",
                "--members",
                str(args.members),
                "--years",
                "1",
                "--seed",
                "3",
                "--out",
                str(population),
            ],
        )
        assert made.exit_code == 0, made.output
        users = root / "users.yaml"
        add_user(users, "bench", "designer", "bench-password")

        answers = parse_answers(ANSWERS)
        # One untimed run first: imports, templates and DuckDB's first connection are not part of either rate.
        for run in range(args.runs + 1):
            if run == 1:
                start = time.perf_counter()
            contract = draft_contract(answers)
            with Engine.connect("duckdb") as engine:
                figures = measure_population(
                    engine.canonical(population),
                    contract,
                    answers.simulation,
                    rows=lambda table, engine=engine: engine.to_arrow(table).to_pylist(),
                )
            assemble_design(answers, contract, 2025, figures)
        library = time.perf_counter() - start

        settings = WebSettings(users_file=users, workdir=root / "work", data_dir=population, secret="bench")
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=120) as client:
            start = time.perf_counter()
            for _ in range(args.runs):
                token = client.post("/api/v1/login", json={"username": "bench", "password": "bench-password"})
            logins = time.perf_counter() - start
            csrf = token.json()["csrf_token"]

            start = time.perf_counter()
            for _ in range(args.runs):
                response = client.post("/api/v1/design", json=ANSWERS, headers={"X-CSRF-Token": csrf})
                assert response.status_code == 201, response.text
            web = time.perf_counter() - start
            design_id = response.json()["id"]

            client.get(f"/ui/designs/{design_id}")  # compiles the templates, untimed
            start = time.perf_counter()
            for _ in range(args.pages):
                assert client.get(f"/ui/designs/{design_id}").status_code == 200
            pages = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(args.pages):
                assert client.get("/static/app.css").status_code == 200
            static = time.perf_counter() - start
        server.should_exit = True
        thread.join(timeout=10)

    print(
        f"population: {args.members:,} members, 1 year; {ANSWERS['simulation']['scenarios']} scenarios per design"
    )
    print(f"design runs, library path:        {_rate(args.runs, library)}")
    print(
        f"design runs, POST /api/v1/design: {_rate(args.runs, web)}  (ratio web/library time {web / library:.2f}x)"
    )
    print(f"result pages:                     {_rate(args.pages, pages)}")
    print(
        f"static file (baseline):           {_rate(args.pages, static)}  (page/static time {pages / static:.2f}x)"
    )
    print(
        f"sign-ins (scrypt):                {_rate(args.runs, logins)}  ({logins / args.runs * 1000:.0f} ms each)"
    )


if __name__ == "__main__":
    main()
