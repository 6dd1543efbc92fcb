# The two commands a fresh clone needs: `make demo` and `make test`.
# Only Python 3.11+ and pip are assumed; uv is bootstrapped into .tools/ when absent, and the
# environment is built from the committed lock file (never a Python download). Bytecode is
# compiled once at install: where PYTHONDONTWRITEBYTECODE is set, every command would otherwise
# compile its imports again (about half a second per `auditlake` process).

PYTHON ?= python3
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen --no-sync

.PHONY: env demo test lint bench-ingest bench-detect bench-watch clean

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON) --all-extras --compile-bytecode
	$(RUN) python -m compileall -q src
	touch $@

env: .venv/.synced

demo: env
	$(RUN) auditlake demo

lint: env
	$(RUN) ruff check src tests $(wildcard benchmarks)
	$(RUN) mypy --ignore-missing-imports src/auditlake

test: env lint
	$(RUN) pytest -q -n 2 --doctest-modules src/auditlake tests
	$(RUN) auditlake rules check
	$(RUN) auditlake rules test

bench-ingest: env
	$(RUN) python benchmarks/ingest/run.py

bench-detect: env
	$(RUN) python benchmarks/detect/run.py

bench-watch: env
	$(RUN) python benchmarks/watch/run.py

clean:
	rm -rf .venv .tools data/lake data/synth
