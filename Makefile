# The README's two commands: `make run` and `make test`.
PY := .venv/bin/python
ARGS ?=

.PHONY: run test bench screenshots setup-run setup-test

setup-run:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test

run: setup-run
	.venv/bin/kvmtui $(ARGS)

test: setup-test
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup-test
	$(PY) -m bench.dashboard
	$(PY) -m bench.snapshot
	$(PY) -m bench.ovs
	$(PY) -m bench.guard

screenshots: setup-test
	$(PY) scripts/screenshots.py
