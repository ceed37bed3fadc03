# Two commands do all the set-up on a fresh machine (Python 3.11+):
#   make run    – installs into .venv, then runs the bot (no BOT_TOKEN: the sandbox with demo data)
#   make test   – installs into .venv, then runs every test (PostgreSQL too when TEST_DATABASE_URL is set)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint i18n-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/fupin-bot run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

i18n-check: $(STAMP)
	$(BIN)/python -m bot.i18n_catalogs check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
