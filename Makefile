# The README's two commands: `make test` and `make demo`. Both set themselves up.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUST_SRC := $(shell find dispatcher_rs/src -name '*.rs' 2>/dev/null) dispatcher_rs/Cargo.toml Cargo.lock

.PHONY: test demo setup lock services test-services browser lint typecheck cargo-test pytest diagram docs clean

setup: $(STAMP)

# (Re)install when the lock, the project or the Rust sources change. Every dependency comes
# from requirements.lock, exact versions checked against their hashes (maturin included,
# hence no build isolation: the Rust crate is built by the locked maturin, which its build
# backend runs from PATH). docs/deployment.md
$(STAMP): requirements.lock pyproject.toml $(RUST_SRC)
	@command -v cargo >/dev/null || { echo "error: cargo not found; install Rust (https://rustup.rs)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r requirements.lock
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@touch $@

# Refresh requirements.lock after a change to pyproject.toml: pins still allowed stay, new
# requirements get the newest version allowed; `make lock UPGRADE=1` moves every pin to the
# newest allowed. requirements-runtime.lock (the image's: no dev extra) takes the same pins.
# Run by the uv the current lock pins (installed from it, hashes checked), not by
# `make setup`, whose `pip check` refuses a project the lock no longer satisfies.
# tests/core/test_lock.py fails while pyproject.toml and the locks disagree.
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 --custom-compile-command "make lock"
lock:
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r requirements.lock
	$(BIN)/uv pip compile -q pyproject.toml --extra dev $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) \
	  -o requirements.lock
	$(BIN)/uv pip compile -q pyproject.toml -c requirements.lock $(LOCK_FLAGS) \
	  -o requirements-runtime.lock

# RabbitMQ and Redis (the demo's); the tests also need PostgreSQL (the report store's).
services:
	@bash infra/ensure-services.sh

test-services:
	@bash infra/ensure-services.sh --with-postgres

# Chromium for the dashboard's browser tests (Debian's package; Playwright drives it).
browser:
	@bash infra/ensure-browser.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck: setup
	$(BIN)/mypy pam_protocol pam_service pam_loadtest blender supervisor_api dispatcher_rs tests bench tools
	$(BIN)/python -m mypy.stubtest dispatcher_rs._native

cargo-test:
	cargo test -q -p dispatcher_rs

pytest: setup test-services browser
	$(BIN)/pytest -q

test: setup test-services browser lint typecheck cargo-test pytest
	@echo "make test: all checks passed"

diagram: setup
	$(BIN)/python tools/render_state_diagram.py docs/state-machine.md

docs: diagram
	$(BIN)/python tools/gen_protocol_docs.py

demo: setup services
	@$(BIN)/python -m pam_loadtest.demo

clean:
	rm -rf $(VENV) target .pytest_cache .mypy_cache .ruff_cache .hypothesis
