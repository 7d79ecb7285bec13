# nvm-node: the two commands a newcomer needs are `make dev` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/node
# Modules of this repository: the node, the plugin SDK, and the plugins heavy
# enough to have their own go.mod (so the node binary does not link them).
MODULES := . sdk $(patsubst %/go.mod,%,$(wildcard plugins/*/go.mod))
FUZZTIME ?= 10s
# npm projects the tests use: interop checks (Node.js crypto, eciesjs), the
# official SDK against our metadata store, the ERC-1271 test wallet compiler.
NPM_PROJECTS := core/keys/testdata/interop core/asset/testdata/sdk-interop core/auth/testdata/wallet

.PHONY: all build build-slim dev demo run test check fuzz bench bench-download deps clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/node

## build-slim: the node without the embedded dev chain (no `node dev` chain; half the binary, ~25 MB less RSS)
build-slim:
	$(GO) build -tags nodevchain -o $(BIN)-slim ./cmd/node

## dev: run a local node on embedded defaults (keys made on first start under ./.nvm-dev); ARGS="--port 8031 --rpc-addr 127.0.0.1:18546" to move it
dev: build
	./$(BIN) dev $(ARGS)

## demo: publish, buy and download against a running `make dev` (in another terminal)
demo: build
	./$(BIN) demo $(ARGS)

## run: run the node with node.yaml / plugins.yaml / environment (see README)
run: build
	./$(BIN) serve $(if $(wildcard node.yaml),--config node.yaml) $(ARGS)

## deps: install what the tests need besides Go: npm packages, and the compiled
## Nevermined contracts (cached under .cache/contracts; a second run is instant)
deps:
	@for p in $(NPM_PROJECTS); do \
		if [ ! -d $$p/node_modules ] || [ $$p/package-lock.json -nt $$p/node_modules ]; then \
			echo "== npm ci $$p"; npm ci --prefix $$p --no-audit --no-fund --loglevel=error || exit 1; \
		fi; \
	done
	@bash tools/contracts/build.sh >/dev/null

## test: static checks, then every test of every module. One package at a time
## (-p 1): several packages start dev chains, and on 2 cores running them side
## by side starved one into a 2-minute stall once (see the session notes).
test: deps check
	@set -e; for m in $(MODULES); do echo "== go test ($$m)"; (cd $$m && $(GO) test -p 1 -count=1 ./...); done

## check: formatting and vet over every module
check:
	@set -e; for m in $(MODULES); do \
		out=$$(cd $$m && gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi; \
		(cd $$m && $(GO) vet ./...); \
	done
	@$(GO) vet -tags nodevchain ./cmd/... ./core/node/...
	@cd sdk && GOOS=wasip1 GOARCH=wasm $(GO) vet ./wasmguest/... ./examples/storage-wasm ./examples/compute-wasm ./examples/storage-http-wasm

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@set -e; for m in $(MODULES); do (cd $$m && \
		for pkg in $$($(GO) list ./...); do \
			for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
				echo "== fuzz $$pkg $$f ($(FUZZTIME))"; \
				if ! out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1); then \
					echo "$$out"; \
					if echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
						echo "== fuzz $$f: the fuzz engine hit its own deadline (no failing input); once more"; \
						$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
					else exit 1; fi; \
				else echo "$$out" | tail -n 2; fi; \
			done; \
		done); done

## bench: load-test a running node with wrk (see scripts/bench.sh)
bench: build
	./scripts/bench.sh

## bench-download: 1 GiB download through the node (local backend) vs nginx on loopback (apt-get install nginx curl)
bench-download: build
	./scripts/bench-download.sh

clean:
	rm -rf bin
