# The README's whole set-up: `make demo` and `make test` on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LLM_STAMP := $(VENV)/.installed-llm

export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 180

.PHONY: install install-llm demo test test-llm lint format clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.8

$(STAMP): pyproject.toml constraints.txt | $(BIN)/uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e '.[dev]'
	@# bytecode up front: with PYTHONDONTWRITEBYTECODE=1 (common in containers) every `kb`
	@# call would otherwise recompile ~1,400 modules (about 4 s of CPU for `kb ask`)
	$(BIN)/python -m compileall -q assistant flows sample_data
	touch $@

install: $(STAMP)

# The real model server of tests/llm/test_real_server.py (the llm-server extra): only tests
# need it, so `make demo` never builds it. llama-cpp-python compiles from source once (4-9
# min on 2 cores); uv keeps the built wheel in its cache and later installs reuse it.
$(LLM_STAMP): $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev,llm-server]'
	touch $@

install-llm: $(LLM_STAMP)

demo: install
	$(BIN)/kb demo

test: install install-llm
	$(BIN)/pytest

test-llm: install-llm
	$(BIN)/pytest -m llm_server tests/llm

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .prefect dbt_project/target dbt_project/logs
