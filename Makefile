# The README's two commands: `make test` and `make demo`. Both set themselves up.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUST_SRC := $(shell find dispatcher_rs/src -name '*.rs' 2>/dev/null) dispatcher_rs/Cargo.toml Cargo.lock

.PHONY: test demo setup services browser lint typecheck cargo-test pytest diagram docs clean

setup: $(STAMP)

# (Re)install when the project or the Rust sources change: pip builds the crate with maturin.
$(STAMP): pyproject.toml $(RUST_SRC)
	@command -v cargo >/dev/null || { echo "error: cargo not found; install Rust (https://rustup.rs)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

services:
	@bash infra/ensure-services.sh

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

pytest: setup services browser
	$(BIN)/pytest -q

test: setup services browser lint typecheck cargo-test pytest
	@echo "make test: all checks passed"

diagram: setup
	$(BIN)/python tools/render_state_diagram.py docs/state-machine.md

docs: diagram
	$(BIN)/python tools/gen_protocol_docs.py

demo: setup services
	@$(BIN)/python -m pam_loadtest.demo

clean:
	rm -rf $(VENV) target .pytest_cache .mypy_cache .ruff_cache .hypothesis
