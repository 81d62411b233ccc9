# Two commands matter: `make demo` and `make test` (see README). Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit bench bench-targeting bench-api bench-pos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

# The main job on the embedded default (SQLite): synthetic registry of 10,000 families in real
# villages → import → verify → determine → release → summary, then one web account per role
# (passwords printed) and the web application on http://127.0.0.1:8000/ until CTRL-C.
# Starts from scratch every time.
PORT ?= 8000

demo: $(STAMP)
	rm -rf demo && mkdir -p demo
	cd demo && LUMBUNG_DATABASE_URL=sqlite:///lumbung-demo.db LUMBUNG_DATA_DIR=data \
		../$(BIN)/lumbung demo --serve --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# SQLite always; PostgreSQL too when LUMBUNG_TEST_POSTGRES_URL is set (CI sets it).
unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python benchmarks/registry_pipeline.py --households 1000000 --backend both

# Targeting: release → features → PMT → desil → PKH, SEMBAKO, PBI-JKN (PostgreSQL), with the
# hand-written DuckDB SQL and pandas baselines. The national run: HOUSEHOLDS=30000000.
HOUSEHOLDS ?= 1000000
bench-targeting: $(STAMP)
	$(BIN)/python benchmarks/targeting_engine.py --households $(HOUSEHOLDS)

# HTTP: the family page, NIK/KK lookups and name search at a steady 200 requests/s, and API
# reads with 50 clients, on a PostgreSQL registry of HOUSEHOLDS families (built once, kept).
bench-api: $(STAMP)
	command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python benchmarks/api_load.py --households $(HOUSEHOLDS)

# PT Pos (issue 16): letters/s (20,000 letters, extrapolated to 1,000,000) and the redemption
# API on PostgreSQL (100 clients) with the double-payment count. benchmarks/README.md.
bench-pos: $(STAMP)
	$(BIN)/python benchmarks/delivery_pos.py all --json benchmarks/results-delivery-pos.json

clean:
	rm -rf demo benchmarks/out .mypy_cache .ruff_cache .pytest_cache
