# 湖南省产业集群竞赛申报系统 — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app wizard
# Every install comes from the hashed lock (regenerate with `make lock`); setup.cfg keeps the ranges.
LOCK := requirements/lock.txt
# Python may cache compiled modules (some machines set PYTHONDONTWRITEBYTECODE: every pytest worker
# and subprocess would then compile the whole package and the tests anew, about 5 s of CPU each)
unexport PYTHONDONTWRITEBYTECODE
# pytest-xdist workers: two per core on these 2-core machines (the suite waits for about 40 % of
# its time: browsers, servers, render consumers, subprocesses; a second worker per core runs while
# one waits: make test on SQLite 360 -> 321 s); WORKERS=0 runs in one process
WORKERS ?= 4
XDIST := $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist worksteal)
# `make test-fast`: the inner loop, without the families marked slow (markers: setup.cfg, tests/conftest.py):
# no browser, no PDF rendering, no memory budgets, no fuzz, no URL-map crawl, no server process, no LibreOffice
FAST := not browser and not pdf and not budget and not fuzz and not crawl and not server and not office
# pytest's temporary folders (each test's database, uploads, PDF cache, render queue) on a RAM file
# system when the machine has one with 1 GB free: on a disk every evidence file's fsync and SQLite's
# checkpoints wait for it (a run keeps about 70 MB there, pytest keeps the last 3 runs; measured on
# these machines, alternated: views+evidence+workflow+accounts+exports, 742 tests at -n 4, wall
# 194 -> 103 s and 154 -> 95 s, CPU 172 -> 153 s and 159 -> 146 s).  TMPDIR, not --basetemp:
# pytest still numbers and cleans its own folders, so two runs at once stay apart.
TEST_TMPDIR ?= $(shell df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 && $$4 > 1048576 {print "/dev/shm"}')
PYTEST := $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR) )$(BIN)/python -m pytest

.PHONY: run test test-fast install install-test lock db bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools

# One environment for running, testing and benchmarking: the lock's exact, hash-checked
# versions (install_requires + the test and prod extras), then the package itself without deps.
$(VENV)/.installed: $(LOCK) setup.cfg setup.py | $(BIN)/python
	$(BIN)/python requirements/check_lock.py setup.cfg $(LOCK)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

install-test: install

# Regenerate the lock after changing a dependency in setup.cfg (one command; commit the result).
# The versions already locked are kept where they still fit; `make lock UPGRADE=1` takes the newest.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile setup.cfg --extra test --extra prod --generate-hashes $(if $(UPGRADE),--upgrade) \
	  --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	  --custom-compile-command "make lock" --annotation-style line --quiet -o $(LOCK)
	@echo "$(LOCK) regenerated; run 'make install' (or any make target) to install it"

db: install
	$(FLASK) db upgrade
	$(FLASK) seed
	$(FLASK) seed-demo

# The app and one PDF render consumer (the queue: instance/render-queue.db), stopped together.
run: db
	@echo "湖南省产业集群竞赛申报系统: http://127.0.0.1:$(PORT)"
	@$(FLASK) render-worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

test: install
	$(PYTEST) $(XDIST) $(PYTEST_ARGS)

test-fast: install
	$(PYTEST) $(XDIST) -m "$(FAST)" $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info
