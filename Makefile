# Reviewflow: `make run` starts the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# axe-core for the browser tests' accessibility check, from package.json/package-lock.json
NODE_STAMP := node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test install install-dev system-deps migrate demo lint format bench clean docs-screenshots

# The runtime (requirements.txt) is all `make run` installs; test and lint tools come on top.
$(STAMP): requirements.txt build-constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.3"
	$(BIN)/python -m pip install --quiet --build-constraint build-constraints.txt -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --quiet --build-constraint build-constraints.txt -r requirements-dev.txt
	touch $(DEV_STAMP)

install: $(STAMP)

# JavaScript the browser tests inject into pages (axe-core): npm ci installs exactly the lock.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

install-dev: $(DEV_STAMP) $(NODE_STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_demo

run: demo
	@echo "Reviewflow on http://$(HOST):$(PORT)/ (demo users: lead, alice, bob, carol; password printed above)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# Production on this machine: gunicorn + a Celery worker + Celery beat against DATABASE_URL (PostgreSQL)
# and REDIS_URL, with production settings, migrations and collected static files.
serve: install
	BIN=$(BIN) HOST=$(HOST) PORT=$(PORT) ./deploy/serve.sh

# Debian packages the tests need: Chromium for the browser tests (never a downloaded browser),
# npm for axe-core, and R with metafor, which the tests marked `r` run to check exported R scripts.
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium fonts-dejavu-core"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	Rscript -e 'library(metafor); library(metadat); library(jsonlite); library(clubSandwich)' >/dev/null 2>&1 || \
		missing="$$missing r-cran-metafor r-cran-metadat r-cran-jsonlite r-cran-clubsandwich"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

test: system-deps install-dev
	$(BIN)/python manage.py makemigrations --check --dry-run
	@# pytest exits 5 when it collected no test: that is a failure here, said plainly.
	@$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
		if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

# The user guide's screenshots (docs/guide/img/): a fresh demo database, the server and
# Chromium, all on this machine (tools/docs_screenshots.py).
docs-screenshots: system-deps install-dev
	$(BIN)/python -m tools.docs_screenshots --out docs/guide/img

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install-dev
	for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) staticfiles .pytest_cache node_modules
