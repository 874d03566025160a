# deskchat: `make run` to try it, `make test` to check it. Everything else is set up by these.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
OIDC := tests/support/oidc

.PHONY: run test venv lint typecheck unit integration e2e chromium oidc-provider clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q -e '.[test,bench]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(VENV)/bin/deskchat demo
	@echo "Log in at http://$(HOST):$(PORT)/console (admin pages: /admin, requests: /requests); end users: /chat"
	$(VENV)/bin/deskchat serve --host $(HOST) --port $(PORT)

# the OpenID provider (oidc-provider, Node) that the single sign-on tests start
$(OIDC)/node_modules/.package-lock.json: $(OIDC)/package-lock.json
	cd $(OIDC) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

oidc-provider: $(OIDC)/node_modules/.package-lock.json

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: venv
	$(VENV)/bin/ruff check src tests bench

typecheck: venv
	$(VENV)/bin/mypy

unit: venv
	$(VENV)/bin/pytest -q tests/unit

integration: venv oidc-provider
	$(VENV)/bin/pytest -q tests/integration

e2e: venv chromium oidc-provider
	$(VENV)/bin/pytest -q -p no:randomly tests/e2e

test: venv chromium oidc-provider lint typecheck
	$(VENV)/bin/pytest -q --durations=15 tests/unit tests/integration tests/e2e

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

-include bench/bench.mk
