# The two commands of the quick start: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install demo test test-slow lint format

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,postgres]"
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# pytest's exit code 5 (no tests collected) is non-zero, so make fails on it too.
test: lint
	$(BIN)/python -m pytest -m "not slow"

# The load benchmark, the funnel on a generated group and the fault tests against real servers
# (PostgreSQL and Redis from DATABASE_URL / REDIS_URL, as for `make test`): about 15 minutes.
test-slow: install
	$(BIN)/python -m pytest -m slow

demo: install
	$(FLASK) db upgrade
	$(FLASK) crm seed-demo
	@echo "starting the jobs process and the web server on http://$(HOST):$(PORT)"
	@bash -c 'set -m; $(FLASK) jobs run & jobs_pid=$$!; \
	  trap "kill $$jobs_pid 2>/dev/null" EXIT INT TERM; \
	  $(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --threads 4 --timeout 120 --access-logfile - app:app'
