# qingzhi — the two commands: `make demo` and `make test` (and `make test-quick` while working).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_SPEED ?= 5

.PHONY: demo test test-quick lint types pytest serve clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# demo: the live simulator runs beside the server (so the map is alive on first open) and is
# stopped when the server exits. The server signs audit checkpoints with a demo key under var/
# (made on first run) into var/audit-checkpoints.log. The map's base layer is the synthetic one
# that `demo load` renders into var/demo-basemap.mbtiles (set QINGZHI_BASEMAP for another).
demo: export QINGZHI_AUDIT_SIGNING_KEY ?= var/audit-signing.key
demo: export QINGZHI_BASEMAP ?= var/demo-basemap.mbtiles
demo: $(STAMP)
	$(BIN)/qingzhi db upgrade
	test -f "$$QINGZHI_AUDIT_SIGNING_KEY" || $(BIN)/qingzhi audit keygen --out "$$QINGZHI_AUDIT_SIGNING_KEY"
	$(BIN)/qingzhi demo load
	$(BIN)/qingzhi demo live --speed $(DEMO_SPEED) & sim=$$!; \
	$(BIN)/qingzhi scheduler & sched=$$!; \
	trap 'kill $$sim $$sched 2>/dev/null' EXIT INT TERM; \
	$(BIN)/qingzhi demo serve --host 127.0.0.1 --port 8000 --allow-demo-passwords

lint: $(STAMP)
	$(BIN)/ruff check src tests bench research
	$(BIN)/ruff format --check src tests bench research
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test: lint types pytest

# test-quick: lint, types and the tests without those marked slow (real-data regressions,
# simulation studies, the API fuzzing, server-process races) or browser; for a local run while
# working. `make test` is the whole suite (CI runs it).
test-quick: PYTEST_ARGS += -m "not slow and not browser"
test-quick: lint types pytest

clean:
	rm -rf $(VENV) var/*.db var/*.db-wal var/*.db-shm var/audit-checkpoints.log .mypy_cache .pytest_cache .ruff_cache
