# Tessera: `make run` and `make test` are the two commands; both run the set-up first.
SWIFT ?= swift
MODEL ?= models/SmolLM2-135M-Instruct.Q4_1.gguf
RELEASE_BIN = .build/release/tessera

.PHONY: setup build release run demo test chaos bench-netns lint format clean

setup:
	scripts/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release --product tessera

# The whole local cluster (Redis, router, workers) on http://127.0.0.1:8080/v1; Ctrl-C stops
# it. UP_ARGS adds flags, e.g. make run UP_ARGS="--tp 2 --threads 1".
run: release
	$(RELEASE_BIN) up --model $(MODEL) $(UP_ARGS)

# The engine on its own: tokenize, generate, bench.
demo: release
	scripts/demo $(RELEASE_BIN) $(MODEL)

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests Benchmarks

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests Benchmarks

test: setup lint
	# Allocation counts only mean something in an optimized build (of Core and its tests
	# alone: TESSERA_CORE_ONLY, see Package.swift), and Gemma's 2K and 8K goldens run there
	# too (a release build, not the debug one); then the rest of the suite; then the HTTP API
	# against the official openai client and schemathesis.
	TESSERA_CORE_ONLY=1 $(SWIFT) test -c release -Xswiftc -enable-testing \
	  --filter 'AllocationTests|LongContextGoldenTests'
	$(SWIFT) test --skip LongContextGoldenTests
	scripts/api-tests
	# A short chaos run: each fault once (worker kill -9, SIGSTOP, Redis, router) under load.
	scripts/chaos --bin .build/debug/tessera --tp 2 --pp 1 --standby 1 --clients 4 \
	  --duration 40 --fault-every 8 --order cycle
	# deploy/ through real validators (kubernetes-validate, hadolint, the compose schema,
	# systemd-analyze), then router, Redis and three workers as hosts in network namespaces:
	# Curve on, captures clean, an unknown key refused, partitions recovered exactly (as root).
	scripts/validate-deploy .build/debug/tessera
	scripts/netns-test --bin .build/debug/tessera

# The soak: 10 minutes of a random fault every 20 s, 8 clients, TP2×PP2 with one standby,
# in release mode. CHAOS_ARGS adds flags, e.g. CHAOS_ARGS="--standby-mode cold".
chaos: release
	scripts/chaos --bin $(RELEASE_BIN) --tp 2 --pp 2 --standby 1 --clients 8 --duration 600 \
	  --fault-every 20 $(CHAOS_ARGS)

# Decode tok/s of TP2 and PP2 against one-way delay on every link (scripts/netproxy), release.
bench-netns: release
	scripts/bench-netns --bin $(RELEASE_BIN)

clean:
	rm -rf .build
