# The two commands: `make demo` (full nightly refresh on the embedded synthetic extract) and `make test`.
PY      ?= python3.11
VENV    ?= .venv
BIN     := $(VENV)/bin
HOME_DIR ?= $(CURDIR)/.ildwh-home
STAMP   := $(VENV)/.installed

.PHONY: demo test install lint bench clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ildwh --home $(HOME_DIR) demo

test: $(STAMP) lint
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check ildwh flows analysis expectations tests bench
	$(BIN)/ruff format --check ildwh flows analysis expectations tests
	cd dbt_project && ../$(BIN)/sqlfluff lint models --processes 2 --nocolor

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(HOME_DIR) dbt_project/target dbt_project/logs
