# herald — see README.md. `make help` lists the targets.
GO        ?= go
BIN       ?= bin/herald
LINT_VER  ?= v2.15.0
GOBIN     ?= $(shell $(GO) env GOPATH)/bin
FUZZTIME  ?= 10s

VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DIST      ?= dist
LDFLAGS   := -s -w -X github.com/herald-mq/herald/internal/version.Version=$(VERSION) -X github.com/herald-mq/herald/internal/version.Revision=$(REVISION)

.PHONY: help build run test race check lint fmt-check vet fuzz bench chaos tools release

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/herald
	$(GO) build -o $(BIN) ./cmd/herald

release: ## static linux/amd64 and linux/arm64 binaries, version stamped, with SHA256SUMS (VERSION=v1.2.3)
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for arch in amd64 arm64; do \
		echo "build $(DIST)/herald-$(VERSION)-linux-$$arch"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o $(DIST)/herald-$(VERSION)-linux-$$arch ./cmd/herald; \
	done
	cd $(DIST) && sha256sum herald-* > SHA256SUMS && cat SHA256SUMS

run: ## run the server with its embedded defaults
	$(GO) run ./cmd/herald serve

test: ## unit, integration and end-to-end tests
	$(GO) test -count=1 ./...

race: ## the tests with the race detector
	$(GO) test -race -count=1 -timeout 12m ./...

check: fmt-check vet lint fuzz race ## everything CI runs (the README's test command)

vet: ## go vet
	$(GO) vet ./...

fmt-check: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

tools: ## install golangci-lint (pinned) into GOBIN
	@test -x $(GOBIN)/golangci-lint && $(GOBIN)/golangci-lint version 2>/dev/null | grep -q "$(LINT_VER:v%=%)" || \
		GOFLAGS= $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VER)

lint: tools ## golangci-lint with .golangci.yml
	$(GOBIN)/golangci-lint run ./...

fuzz: ## run every Fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg; \
		done; \
	done

bench: ## the benchmark program (ratios against baselines) and Go benchmarks
	$(GO) run ./bench

chaos: ## the chaos campaign (kill -9, SIGTERM, cluster node loss); CHAOS_FLAGS="-trials 100"
	$(GO) run ./e2e/chaos $(CHAOS_FLAGS)
