# Two commands for a fresh machine with Python 3.11+:
#   make run    the whole system on embedded defaults (SQLite, file-system broker, files on disk) with demo data
#   make test   ruff, mypy, deploy checks and every test against real PostgreSQL, Redis, Celery and Chromium
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck deploy-check pytest services bench mutate messages clean backup restore

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python tools/run_all.py --host $(HOST) --port $(PORT)

services:
	bash tools/ensure_services.sh

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

# The production settings must pass Django's deployment checks with no warning.
deploy-check: $(VENV)/.dev-installed
	DJANGO_SETTINGS_MODULE=config.settings.production \
	SECRET_KEY=deploy-check-only-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ \
	EVIDENCE_ENCRYPTION_KEY=ZGVwbG95LWNoZWNrLW9ubHkta2V5LTMyLWJ5dGVzISE= \
	ALLOWED_HOSTS=support.example.org \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
	REDIS_URL=redis://127.0.0.1:6379/0 \
	EMAIL_USE_TLS=true \
	AUDIT_SIGNER_URL=http://127.0.0.1:8031 \
	AUDIT_SIGNER_PUBLIC_KEY=2styOemFY8eXX+wCFsJ4e2SnbeL2+10OPZzdnFKGdcU= \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

pytest: $(VENV)/.dev-installed
	$(BIN)/pytest

test: $(VENV)/.dev-installed services lint typecheck deploy-check pytest

bench: $(VENV)/.dev-installed services
	@ls bench/*.py >/dev/null 2>&1 && for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done || echo "no benchmarks yet"

# Mutation testing of the modules that guard victims (docs/testing.md, "Mutation testing"): mutmut,
# one guarding module at a time, each with the test files that exercise it, in scratch copies under
# var/mutate/. Fails when a module kills fewer than 85% of its mutants.
#   make mutate [MODULES="cases/selectors.py core/audit.py"]
mutate: $(VENV)/.dev-installed services
	$(BIN)/python tools/mutate.py $(MODULES)

# Backups (docs/operations.md, "Backups"): the settings come from the environment as for every
# manage.py command (DJANGO_SETTINGS_MODULE, DATABASE_URL, EVIDENCE_ROOT or the S3 bucket, the keys).
#   make backup [BACKUP_DIR=/srv/backups]
#   make restore BACKUP=/srv/backups/backup-20260101T020000Z [RESTORE_ARGS="--database-url URL --evidence-dir DIR"]
BACKUP_DIR ?= var/backups
backup: $(VENV)/.run-installed
	$(BIN)/python manage.py backup --output $(BACKUP_DIR)

restore: $(VENV)/.run-installed
	@test -n "$(BACKUP)" || { echo "Name the backup folder: make restore BACKUP=var/backups/backup-..."; exit 2; }
	$(BIN)/python manage.py restore $(BACKUP) $(RESTORE_ARGS)

# Rebuild the translation catalogues after changing strings (needs gettext's msgfmt/xgettext).
messages: $(VENV)/.dev-installed
	$(BIN)/python manage.py makemessages -l ko -l en --ignore=.venv --ignore=var --ignore=tests
	$(BIN)/python tools/compile_messages.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
