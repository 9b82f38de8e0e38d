# The two set-up commands (README): `make demo` and `make test`. Each builds .venv from the lock file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/dev.lock
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-fast test-spark lint typecheck imports bench bench-smoke lock java chromium clean

venv: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3 setuptools==80.9.0 wheel==0.45.1
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# PySpark needs Java 17+; install Debian's JRE when the machine has none (root on our machines).
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "Java not found: installing openjdk-17-jre-headless from Debian"; \
	  (apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless) >/dev/null \
	  || echo "WARNING: could not install Java; Spark parity tests will be skipped"; }

# The web e2e tests drive Debian's chromium with Playwright (no `playwright install` download).
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "chromium not found: installing Debian's chromium"; \
	  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null \
	  || echo "WARNING: could not install chromium; the web e2e tests will be skipped"; }

demo: venv
	$(BIN)/python -m apmkit.demo

# PYTEST_EXIT_FILE (used by .ci/run) receives pytest's own exit code: make turns every failure into 2.
test: venv java chromium
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup; rc=$$?; \
	if [ -n "$(PYTEST_EXIT_FILE)" ]; then echo $$rc > "$(PYTEST_EXIT_FILE)"; fi; exit $$rc

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow and not spark"

test-spark: venv java
	$(BIN)/python -m pytest -q --engine pyspark -m "not slow"

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: venv
	$(BIN)/mypy

# Import-layer contracts (.importlinter): a module imports only from the layers below its own.
imports: venv
	$(BIN)/lint-imports

# Results (output, date, commit, machine, wall time, peak RSS) go to bench/results/, summarized in its README.md.
bench: venv
	$(BIN)/python bench/run.py

# Every bench/ script imported and run end to end at a tiny size (CI: a moved module breaks it here).
# Tiny results are saved to a temporary folder and removed: bench/results/ and the tree stay as they are.
bench-smoke: venv
	APMKIT_BENCH_SIZE=tiny $(BIN)/python bench/run.py

# Regenerate the lock after editing dependencies in pyproject.toml (uv is used only to resolve).
lock:
	@test -x /tmp/uvenv/bin/uv || ($(PYTHON) -m venv /tmp/uvenv && /tmp/uvenv/bin/pip install -q uv)
	/tmp/uvenv/bin/uv pip compile pyproject.toml --extra spark --extra web --extra dev -o $(LOCK) --python-version 3.11

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
