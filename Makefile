# Stockwire: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= $(shell nproc)

# The demo project (demo/config, demo/shop) runs from the repository and is not installed;
# the reusable app, stockwire/, is installed editable with all its extras.
export PYTHONPATH := $(CURDIR)/demo
MANAGE := $(PY) demo/manage.py

# The ASGI server and its options: demo/config/server.py.
SERVER := $(PY) -m config.server

.PHONY: run serve test lint clean bench

$(VENV)/.runtime: pyproject.toml requirements/demo.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]" -r requirements/demo.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements/test.txt
	$(PY) -m pip install --quiet -r requirements/test.txt
	touch $@

run: export DEBUG ?= true
run: $(VENV)/.runtime .secret-key
	$(eval export SECRET_KEY ?= $(shell cat .secret-key))
	$(MANAGE) migrate --noinput
	$(MANAGE) load_demo
	@echo
	@echo "  Stockwire is at http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
	@echo
	$(SERVER) --host $(HOST) --port $(PORT) --access-log

# Production-style: DEBUG off, static files collected, WORKERS processes on PORT. With
# DATABASE_URL and REDIS_URL set, several `make serve` on any hosts are one shop.
serve: export DEBUG = false
serve: export ALLOWED_HOSTS ?= $(HOST),localhost,127.0.0.1
serve: $(VENV)/.runtime .secret-key
	$(eval export SECRET_KEY ?= $(shell cat .secret-key))
	$(MANAGE) migrate --noinput
	$(MANAGE) collectstatic --noinput -v0
	$(MANAGE) check --deploy --fail-level WARNING
	$(SERVER) --host $(HOST) --port $(PORT) --workers $(WORKERS)

# A key of this checkout's own when SECRET_KEY is not set; never committed. Hosts that share
# a database must share a SECRET_KEY: set it in their environment.
.secret-key:
	umask 077 && $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

# Two passes at once: the embedded default (SQLite, in-memory layer), and the same suite on
# PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL), where the multi-process tests run.
# Most of a pass is waiting (for servers to start, browsers, timeouts): one pass keeps one of
# two cores about three-quarters busy, so the two share the machine. The first pass reports
# as it goes; the second's report follows it, from SERVICES_LOG.
SERVICES_LOG := .test-services-pass.log
test: $(VENV)/.dev
	@if [ -n "$$TEST_DATABASE_URL" ] && [ -n "$$TEST_REDIS_URL" ]; then \
		DATABASE_URL="$$TEST_DATABASE_URL" REDIS_URL="$$TEST_REDIS_URL" \
			CHANNEL_PREFIX="stockwire-test-$$$$" $(VENV)/bin/pytest $(PYTEST_ARGS) \
			> $(SERVICES_LOG) 2>&1 & services=$$!; \
		$(VENV)/bin/pytest $(PYTEST_ARGS); embedded=$$?; \
		wait $$services; on_services=$$?; \
		echo "== The suite on PostgreSQL and Redis"; cat $(SERVICES_LOG); \
		[ $$embedded = 0 ] && [ $$on_services = 0 ]; \
	elif [ "$$REQUIRE_SERVICES" = 1 ]; then \
		echo "REQUIRE_SERVICES=1 but TEST_DATABASE_URL or TEST_REDIS_URL is not set" >&2; exit 1; \
	else \
		$(VENV)/bin/pytest $(PYTEST_ARGS) && \
		echo "SKIPPED the PostgreSQL and Redis pass: set TEST_DATABASE_URL and TEST_REDIS_URL to run it"; \
	fi

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) demo/db.sqlite3* demo/.test-db*.sqlite3* demo/staticfiles build

# The benchmark harness (bench/): every set-up at N = 1000, 5000, 10000 side by side, results
# in bench/results/. QUICK=1 is the smoke run (N = 200, under a minute). More options through
# BENCH_ARGS, e.g. BENCH_ARGS="--setup redis-core --subscribers 5000"; see python -m bench -h.
$(VENV)/.bench: $(VENV)/.runtime requirements/bench.txt
	$(PY) -m pip install --quiet -r requirements/bench.txt
	touch $@

bench: $(VENV)/.bench
	$(PY) -m bench $(if $(filter 1,$(QUICK)),--quick) $(BENCH_ARGS)
