# Stockwire: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# The ASGI server as measured for this product: uvicorn with uvloop, httptools and the
# sans-I/O websockets protocol; no lifespan (Channels' router has none).
UVICORN := $(VENV)/bin/uvicorn config.asgi:application --loop uvloop --http httptools \
	--ws websockets-sansio --lifespan off

.PHONY: run test lint clean

$(VENV)/.runtime: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

run: export DEBUG ?= true
run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	@echo
	@echo "  Stockwire is at http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
	@echo
	$(UVICORN) --host $(HOST) --port $(PORT)

test: $(VENV)/.dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) db.sqlite3* .test-db.sqlite3* staticfiles
