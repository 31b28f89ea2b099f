# Every target builds its own virtualenv from the hash-locked requirements.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-patterns test lint format install lock clean

# devtools/install_venv.py keeps a whole venv, rebuilds a broken or half-built one, has the
# bundled pip install only the pinned installer (requirements/installer.lock: uv, pip, by
# hash), and uv make the venv exactly the hash-locked requirements.
LOCKS := requirements/installer.lock requirements/build.lock requirements/main.lock requirements/dev.lock
$(STAMP): $(LOCKS) pyproject.toml devtools/install_venv.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11 with its bundled pip)"; exit 1; }
	@rm -f $(STAMP)
	$(PYTHON) devtools/install_venv.py --venv $(VENV) --python $(PYTHON)
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m devtools demo

# The multi-model patterns as declarative specs pushed over REST (debate + judge here).
demo-patterns: $(STAMP)
	$(BIN)/python -m devtools demo --spec examples/specs/debate_judge.yaml

test: $(STAMP)
	$(BIN)/python -m app.supply_chain_check
	$(BIN)/python -m devtools.lock_check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# Unit and integration tests run in two processes (pytest-xdist, a module's tests in
	@# one process); then the end-to-end tests, which start service processes, kill workers
	@# and drop connections, also two at a time: each has its own databases, simulator and
	@# ports, and most of their time is spent starting processes. pytest exits 5 when it
	@# collected nothing: that is a failure here, said plainly.
	@$(BIN)/python -m pytest -n 2 --dist loadscope tests/unit tests/integration $(PYTEST_ARGS); \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "FAIL: pytest collected no tests" >&2; fi; \
	[ $$rc -eq 0 ] || exit $$rc
	@$(BIN)/python -m pytest -n 2 --dist loadscope tests/e2e $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "FAIL: pytest collected no tests" >&2; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app graphs nodes devtools

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-resolve the locks with the pinned uv (run when requirements/*.in change); pins
# already in a lock are kept unless `LOCK_ARGS=--upgrade`.
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 --universal $(LOCK_ARGS)
lock: $(STAMP)
	$(UV_COMPILE) -o requirements/installer.lock requirements/installer.in
	$(UV_COMPILE) -o requirements/build.lock requirements/build.in
	$(UV_COMPILE) -o requirements/main.lock requirements/main.in
	$(UV_COMPILE) -o requirements/dev.lock requirements/dev.in

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
