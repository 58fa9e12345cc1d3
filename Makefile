# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
FLASK := PC_ENV=development $(VENV)/bin/flask --app wsgi

.PHONY: run test screenshots install install-test system-runtime system-test widget translations lint format bench clean

run: install
	$(FLASK) db upgrade
	$(FLASK) demo seed
	scripts/run-dev.sh

test: install-test
	scripts/run-tests.sh

# Every page in four languages at 320 and 1280 px, into screenshots/ (not committed).
screenshots: install-test
	PC_ENV=development $(VENV)/bin/python scripts/screenshots.py

install: system-runtime $(VENV)/.installed node_modules/.installed widget translations

install-test: system-test $(VENV)/.installed node_modules/.installed widget translations

system-runtime:
	scripts/system-deps.sh runtime

system-test:
	scripts/system-deps.sh test

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The widget is bundled with esbuild into privacy_center/static/widget/ (built, never committed);
# the build fails when it exceeds its size budget.
widget: privacy_center/static/widget/manifest.json

privacy_center/static/widget/manifest.json: node_modules/.installed widget/build.mjs $(wildcard widget/src/*)
	npm run --silent build:widget

# The .mo files are built, never committed.
translations: $(VENV)/.installed
	$(FLASK) translations compile

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install-test
	$(VENV)/bin/python bench/run_all.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache *.egg-info
