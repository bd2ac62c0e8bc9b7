# Threadline developer commands. Each target installs what it needs first.
#   make dev     the API locally on an embedded AWS emulation (no AWS account, no Docker)
#   make test    lint, type checks, template checks (cfn-lint, sam validate --lint, sam build), security scan (checkov), all tests
#   make bench   cold-start and DynamoDB-cost benchmark
#   make migrate ARGS=...  upgrade a deployed threads table, or rebuild its index (docs/deploy.md)
#   make bench-list  listing benchmark: reads per list shape at 1,000 and 10,000 threads, write units per write
#   make bench-events  how soon an event is readable (log, stream, webhook) after its change, on the local server
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
SAM_BUILD_DIR ?= .aws-sam/build

.PHONY: install install-sam install-checkov install-agui dev test lint template-check security-check pytest pytest-lambda-python bench bench-list bench-events openapi migrate clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

# AWS SAM CLI pins older boto3/pydantic: it lives in its own environment.
$(SAM_VENV)/.installed: tools/sam-constraints.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -c tools/sam-constraints.txt aws-sam-cli
	touch $@

# checkov pins its own boto3, pydantic and more: it too lives in its own environment.
$(CHECKOV_VENV)/.installed: tools/checkov-constraints.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -c tools/checkov-constraints.txt checkov
	touch $@

# The AG-UI client harness the stream's tests follow runs with (tools/agui, node >= 20).
tools/agui/node_modules/.installed: tools/agui/package.json tools/agui/package-lock.json
	npm ci --prefix tools/agui --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed
install-sam: $(SAM_VENV)/.installed
install-checkov: $(CHECKOV_VENV)/.installed
install-agui: tools/agui/node_modules/.installed

dev: install
	$(PY) -m threadline_tools.local $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo --no-cache

template-check: install install-sam
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1
	$(SAM) build --build-dir $(SAM_BUILD_DIR) --region us-east-1

# checkov over the template (settings and app-wide skips: .checkov.yaml; a resource's own skips
# sit in its Metadata with their reasons): any finding fails. docs/operations.md, "Security scan".
# checkov exits 0 on a template it cannot parse (and so scans nothing): that fails too.
security-check: install-checkov
	@out=$$($(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -f template.yaml 2>&1); status=$$?; \
	echo "$$out"; \
	if echo "$$out" | grep -q "Parsing errors"; then echo "checkov could not parse template.yaml"; exit 1; fi; \
	exit $$status

# On every core (pytest-xdist): the suite is CPU-bound, and each test has its own emulation.
# The deploy rehearsal applies the SAM transform with the SAM CLI's translator (install-sam).
# worksteal: each worker starts on a contiguous half (a module's server starts once per worker
# that runs it) and an idle worker takes tests from the other's queue, so a long test collected
# late does not leave one core idle while the other runs it alone.
pytest: install install-sam install-agui
	$(PY) -m pytest -q -n auto --dist worksteal $(PYTEST_ARGS)

# Lambda runs Python 3.12+: the unit tests and a workflow and create-thread slice run
# on it too, when a 3.12 is on this machine (on the PATH or through pyenv).
LAMBDA_PY := $(shell if python3.12 -c "" 2>/dev/null; then echo python3.12; \
	elif command -v pyenv >/dev/null 2>&1 && v=$$(pyenv latest 3.12 2>/dev/null); then echo "$$(pyenv root)/versions/$$v/bin/python3.12"; fi)

pytest-lambda-python: install-agui
	@if [ -z "$(LAMBDA_PY)" ]; then echo "skipped: no Python 3.12 on this machine"; else \
		[ -x .venv-py312/bin/python ] || $(LAMBDA_PY) -m venv .venv-py312; \
		.venv-py312/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]" && \
		.venv-py312/bin/python -m pytest -q -n auto --dist worksteal -p no:cacheprovider tests/unit tests/integration/test_workflow.py \
			tests/integration/test_create_thread.py; fi

# The full tests run last so their summary closes the output.
test: lint template-check security-check pytest-lambda-python pytest

bench: install
	$(PY) -m threadline_tools.bench $(ARGS)

bench-list: install
	$(PY) -m threadline_tools.bench_list $(ARGS)

bench-events: install
	$(PY) -m threadline_tools.bench_events $(ARGS)

openapi: install
	$(PY) -m threadline_tools.openapi

# Upgrade or repair a deployed threads table (docs/deploy.md), e.g.
#   make migrate ARGS="--table <new table> --from-table <old table>"
migrate: install
	$(PY) -m threadline_tools.migrate $(ARGS)

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .threadline
