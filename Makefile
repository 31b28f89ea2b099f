# Every target builds its own virtualenv from the hash-locked requirements.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-patterns test lint format install lock clean

$(STAMP): requirements/main.lock requirements/dev.lock requirements/build.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes \
		-r requirements/build.lock -r requirements/main.lock -r requirements/dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/routegraph demo

# The multi-model patterns as declarative specs pushed over REST (debate + judge here).
demo-patterns: $(STAMP)
	$(BIN)/routegraph demo --spec examples/specs/debate_judge.yaml

test: $(STAMP)
	$(BIN)/python -m app.supply_chain_check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# pytest exits 5 when it collected nothing: that is a failure here, said plainly.
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "FAIL: pytest collected no tests" >&2; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app graphs nodes

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-resolve the locks (needs pip-tools; run when requirements/*.in change).
lock:
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements/main.lock requirements/main.in
	$(BIN)/pip-compile --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements/dev.lock requirements/dev.in

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
