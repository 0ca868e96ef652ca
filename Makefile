# Member Center. `make run` and `make test` each do all of their own set-up.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements/lock.txt 2>/dev/null | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help install migrate run test lint format bench lock clean

help:
	@echo "make run    - set up and serve the portal with a demo, a Celery worker and beat"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff (lint + format check), mypy, makemigrations --check"
	@echo "make bench  - benchmarks against the local PostgreSQL and Redis (docs/benchmarks.md)"

$(STAMP): requirements/lock.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/lock.txt \
	  2>&1 | { grep -v 'is neither a file nor a directory' || true; }
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

# Set-up (migrations, the AliExpress program, the demo, static files), then the web server,
# a Celery worker and beat; one Ctrl-C stops them and the embedded database (config/dev.py).
run: install
	$(PY) -m config.dev

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	@for script in bench/*.py; do \
	  case "$$script" in */_*) continue;; esac; \
	  echo "== $$script"; $(PY) $$script || exit 1; \
	done

# Re-pin the dependencies after editing pyproject.toml (needs network access to PyPI).
lock:
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements/lock.txt

clean:
	rm -rf $(VENV) var/cache var/celery staticfiles test-artifacts
