# bulwark: gRPC client resilience interceptors.
# Tools are pinned and installed into ./bin so that generated code is reproducible.

BIN          := $(CURDIR)/bin
BUF_VERSION  := v1.75.0
PGG_VERSION  := v1.36.12
PGGG_VERSION := v1.6.2
LINT_VERSION := v2.15.0
GO           ?= go
PKGS         ?= ./...
BENCH        ?= .
COUNT        ?= 6

.PHONY: all test test-short race vet fmt-check fuzz bench generate generate-check lint tidy-check demo tools clean

all: test

## test: vet, gofmt check, the race-enabled test suite (what CI runs) and the allocation
## ceilings, counted without -race (the race detector changes what allocates)
test: vet fmt-check
	$(GO) test -race -count=1 -timeout 10m $(PKGS)
	$(GO) test -count=1 -run '^TestSuiteAllocsOverRaw$$' ./interceptors/

## test-short: the test suite without -race, for a quick loop
test-short:
	$(GO) test -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

## fuzz: run each fuzz target for FUZZTIME (default 20s)
FUZZTIME ?= 20s
fuzz:
	$(GO) test ./codes -run '^$$' -fuzz '^FuzzClassify$$' -fuzztime $(FUZZTIME)
	$(GO) test ./codes -run '^$$' -fuzz '^FuzzPushback$$' -fuzztime $(FUZZTIME)
	@if [ -d config ]; then $(GO) test ./config -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME); fi

## bench: micro-benchmarks of the main module, -count $(COUNT), summarised by benchstat
bench: $(BIN)/benchstat
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) $(PKGS) | tee bench.out
	$(BIN)/benchstat bench.out
	@if [ -f benchmarks/Makefile ]; then $(MAKE) -C benchmarks report; fi

## generate: regenerate protobuf code with pinned local plugins, and lint the protos
generate: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc
	$(BIN)/buf lint
	$(BIN)/buf generate

## generate-check: fail when the committed generated code is stale
generate-check: generate
	@git diff --exit-code -- proto || (echo "generated code is stale: run make generate and commit"; exit 1)
	@test -z "$$(git status --porcelain -- proto)" || (git status --porcelain -- proto; echo "untracked generated files"; exit 1)

## lint: golangci-lint and a tidy go.mod
lint: $(BIN)/golangci-lint tidy-check
	$(BIN)/golangci-lint run $(PKGS)

tidy-check:
	$(GO) mod tidy -diff

## demo: the KYC orchestrator against in-process stub services
demo:
	$(GO) run ./examples/orchestrator

tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc

$(BIN)/buf:
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PGG_VERSION)
$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PGGG_VERSION)
$(BIN)/golangci-lint:
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VERSION)
$(BIN)/benchstat:
	GOBIN=$(BIN) $(GO) install golang.org/x/perf/cmd/benchstat@latest

clean:
	rm -rf $(BIN) bench.out
