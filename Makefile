# The two commands of the README: `make run` and `make test`. Each sets up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEJAVU := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

.PHONY: run test bench clean
# bench/http_reads.py: the worker classes compared side by side; the goal is judged on sync.
HTTP_BENCH_VARIANTS := --variant sync: --variant gthread:GATEWAY_WORKER_CLASS=gthread,GATEWAY_THREADS=4 --goal-variant sync

$(STAMP): pyproject.toml tests/browser/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# Debian's Chromium for the browser tests (no browser download) and DejaVu fonts for
	# the PDF copies; axe-core from npm.
	{ command -v chromium >/dev/null && test -f $(DEJAVU); } || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium fonts-dejavu-core; }
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(STAMP)
	$(BIN)/records-gateway demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/policy_engine.py --markdown --write-doc docs/benchmarks.md
	# HTTP: audited reads under gunicorn, with wrk (Debian) and PostgreSQL on 127.0.0.1:5432.
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/http_reads.py $(HTTP_BENCH_VARIANTS) --write-doc docs/benchmarks.md

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
