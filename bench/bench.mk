# Benchmark targets (issue 5). Included by the main Makefile, which defines VENV, PY and `venv`.
#
#   make bench-quick     small numbers, under a minute, writes bench/results/latest.json
#   make bench           the targets of issue 5 (1,000 chats, 10,000 timers, ...), several minutes
#   make bench-profile   py-spy the server under the chats load; summary in bench/results/
#
# The generator runs on core $(BENCH_GEN_CPU); run.py starts every server (bare relay, deskchat on
# SQLite, deskchat on PostgreSQL) with `taskset -c $(BENCH_SERVER_CPU)`. PostgreSQL is reached as
# $(BENCH_PG_USER)@$(BENCH_PG_HOST):$(BENCH_PG_PORT) with psql; without it chats-postgres is skipped.

VENV ?= .venv
PY ?= $(VENV)/bin/python
BENCH_SERVER_CPU ?= 0
BENCH_GEN_CPU ?= 1
BENCH_PG_HOST ?= 127.0.0.1
BENCH_PG_PORT ?= 5432
BENCH_PG_USER ?= postgres
BENCH_ARGS ?=
BENCH_RUN = ulimit -n $$(ulimit -Hn) 2>/dev/null; \
	BENCH_PG_HOST=$(BENCH_PG_HOST) BENCH_PG_PORT=$(BENCH_PG_PORT) BENCH_PG_USER=$(BENCH_PG_USER) \
	$$(command -v taskset >/dev/null && [ $$(nproc) -ge 2 ] && echo taskset -c $(BENCH_GEN_CPU)) \
	$(PY) bench/run.py --server-cpu $(BENCH_SERVER_CPU) --generator-cpu $(BENCH_GEN_CPU)

.PHONY: bench bench-quick bench-profile bench-deps

bench-deps: venv
	@$(PY) -c "import websockets, psutil, httpx, uvloop" 2>/dev/null || $(VENV)/bin/pip install -q \
		"websockets>=12" "psutil>=5.9" "httpx>=0.27" "uvloop>=0.19"
	@$(PY) -c "import orjson" 2>/dev/null || $(VENV)/bin/pip install -q "orjson>=3.9" || true

bench: bench-deps
	$(BENCH_RUN) --mode full --command "make bench" $(BENCH_ARGS)

bench-quick: bench-deps
	$(BENCH_RUN) --mode quick --command "make bench-quick" $(BENCH_ARGS)

bench-profile: bench-deps
	@$(PY) -c "import shutil,sys; sys.exit(shutil.which('py-spy', path='$(VENV)/bin') is None)" \
		|| $(VENV)/bin/pip install -q "py-spy>=0.3"
	$(BENCH_RUN) --mode full --scenarios chats-sqlite chats-postgres --profile \
		--out bench/results/profile-run.json --command "make bench-profile" $(BENCH_ARGS)
	for f in bench/results/profile-chats-*.txt; do $(PY) bench/profile_summary.py $$f \
		> $${f%.txt}.summary.txt; done

.PHONY: bench-search
bench-search: bench-deps
	$(PY) bench/search.py $(BENCH_ARGS)
