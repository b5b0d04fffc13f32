# pex — one-command set-up: `make run` starts a node, `make test` runs everything.
# Every target first installs whatever system package is missing (apt-get), so a fresh
# machine needs nothing but Swift, Python 3 and this repository.

SHELL := /bin/bash
.DEFAULT_GOAL := build

SWIFT        ?= swift
PYTHON       ?= python3
FUZZ_SECONDS ?= 60
COVERAGE_MIN ?= 90
SYSTEM_PACKAGES := libuv1-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler \
                   libsodium-dev libsqlite3-dev zlib1g-dev pkg-config python3-venv
VENV     := clients/python/.venv
VENV_PY  := $(VENV)/bin/python
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv coverage-gate deps build test swift-test python-test integration-test coverage run proto fuzz bench demo clean help sim

help:
	@echo "make run       build and run a node on the embedded defaults"
	@echo "make test      build, run the Swift and Python tests, enforce coverage"
	@echo "make build     build everything (debug)"
	@echo "make proto     regenerate C and Python code from proto/"
	@echo "make fuzz      run every fuzz target for FUZZ_SECONDS (default 60) seconds"
	@echo "make coverage  line coverage per module"
	@echo "make bench     benchmarks against same-run baselines (decode, msgs/s, memory, convergence)"
	@echo "make demo      five local nodes, a live table until all know all"

# Installs only what is missing; quiet when everything is there.
deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV_PY): clients/python/requirements.txt | deps
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install -q --upgrade pip
	$(VENV_PY) -m pip install -q -r clients/python/requirements.txt
	touch $(VENV_PY)

venv: $(VENV_PY)

build: deps
	$(SWIFT) build

# Swift tests with coverage, then the coverage gate, then pytest.
test: deps swift-test coverage-gate python-test integration-test

swift-test: deps
	$(SWIFT) build --build-tests --enable-code-coverage
	$(SWIFT) test --skip-build --enable-code-coverage --disable-swift-testing

coverage-gate: swift-test
	$(PYTHON) scripts/coverage.py --min $(COVERAGE_MIN) --gate PexWire --gate PexCore --gate PexRuntime --gate PexSim

python-test: $(VENV_PY)
	cd clients/python && .venv/bin/python -m pytest -q

# Real pexd processes on 127.0.0.1 (tests/integration); pexd is built by swift-test.
integration-test: $(VENV_PY)
	$(SWIFT) build --product pexd
	$(VENV_PY) -m pytest -q tests/integration

# Five nodes on loopback, each knowing only the first; a live table until all know all.
demo: deps
	$(SWIFT) build --product pexd
	PEXD="$$($(SWIFT) build --show-bin-path)/pexd" scripts/demo.sh

coverage: deps
	$(SWIFT) build --build-tests --enable-code-coverage
	$(SWIFT) test --skip-build --enable-code-coverage --disable-swift-testing
	$(PYTHON) scripts/coverage.py

# A node on the embedded defaults: data in ./data, listening on /ip4/0.0.0.0/tcp/4001
# (conf.yaml in the working directory is read when present). Ctrl-C stops it cleanly.
run: deps
	$(SWIFT) build --product pexd
	$$($(SWIFT) build --show-bin-path)/pexd run

proto: deps
	scripts/gen-proto.sh

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

bench: deps $(VENV_PY)
	scripts/bench.sh

# Deterministic simulator: a 20-seed × 64-node swarm sweep, a short run of every scenario,
# then the plots (matplotlib in its own venv requirements, see scripts/sim-report.py).
sim: deps $(VENV_PY)
	$(SWIFT) build -c release --product pexsim
	@bin=$$($(SWIFT) build -c release --show-bin-path)/pexsim; set -e; mkdir -p docs/sim-results/short; \
	SWIFT_DETERMINISTIC_HASHING=1 $$bin swarm --seed 100 --count 20 --nodes 64; \
	for s in $$($$bin list); do SWIFT_DETERMINISTIC_HASHING=1 $$bin run $$s --short --output docs/sim-results/short/$$s.json; done
	$(VENV_PY) -m pip install -q -r scripts/requirements-sim.txt
	$(VENV_PY) scripts/sim-report.py docs/sim-results docs

clean:
	rm -rf .build .build-* fuzz/.deps fuzz/corpus-run fuzz/artifacts $(VENV)
