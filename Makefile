# bulwark: gRPC client resilience interceptors.
# Tools are pinned and installed into ./bin so that generated code is reproducible.

BIN          := $(CURDIR)/bin
BUF_VERSION  := v1.75.0
PGG_VERSION  := v1.36.12
PGGG_VERSION := v1.6.2
LINT_VERSION := v2.15.0
GO           ?= go
BENCH        ?= .
COUNT        ?= 6

# The repository's modules (go.work lists the same): the core at the root, the providers, the
# programs and tests that use them, and the comparison benchmarks. Commands run from the root
# in workspace mode, where ./... is the core module only, so each module gets its own pattern.
# README's "Modules" says why the providers are modules of their own.
MODULES      := . observe/promobs observe/zapobs observe/otelobs interceptors/ratelimit/redislimit \
                examples e2e observability internal/integration benchmarks
modpkgs       = $(foreach m,$(1),$(if $(filter .,$(m)),./...,./$(m)/...))
# vet and lint: every module.
PKGS         ?= $(call modpkgs,$(MODULES))
# test and bench: every module but benchmarks/, a measuring harness with its own Makefile (make -C
# benchmarks test; make bench runs its report), whose fixture tests time real calls under load;
# test takes its tools' packages (the report's statistics and goal verdicts, the results files'
# heads), whose tests are exact.
TEST_PKGS    ?= $(call modpkgs,$(filter-out benchmarks,$(MODULES))) ./benchmarks/cmd/... ./benchmarks/internal/...
# The committed go.work, whatever GOWORK the environment sets (tidy-check turns it off per module).
export GOWORK := $(CURDIR)/go.work

.PHONY: all test test-short vet fmt-check fuzz bench generate generate-check lint tidy-check work-check demo tools clean

all: test

## test: vet, gofmt check, go.work lists every module, the race-enabled test suite of every
## module but benchmarks/ and of benchmarks/' tools (what CI runs), and the allocation and stack ceilings, measured
## without -race (the race detector changes what allocates and frame sizes); the last step
## fails if either ceiling test did not run (a -run pattern that matches no test passes)
test: vet fmt-check work-check
	$(GO) test -race -count=1 -timeout 10m $(TEST_PKGS)
	@out=$$($(GO) test -count=1 -v -run '^(TestSuiteAllocsOverRaw|TestSuiteStackUnderCall)$$' ./internal/integration/ 2>&1); rc=$$?; \
	echo "$$out" | grep -E '^(--- |ok|FAIL|panic)|allocations per call|of stack before'; \
	test $$rc -eq 0 && echo "$$out" | grep -q '^--- PASS: TestSuiteAllocsOverRaw ' && \
	echo "$$out" | grep -q '^--- PASS: TestSuiteStackUnderCall ' || \
	{ echo "TestSuiteAllocsOverRaw or TestSuiteStackUnderCall failed or did not run"; exit 1; }

## test-short: the test suite without -race, for a quick loop
test-short:
	$(GO) test -count=1 $(TEST_PKGS)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

## fuzz: run each fuzz target for FUZZTIME (default 20s)
FUZZTIME ?= 20s
# Go minimizes each new input for up to 60s by default: a slow target with large inputs
# (FuzzLoad, FuzzFlags) would spend all of FUZZTIME minimizing its first find.
FUZZMINIMIZETIME ?= 2s
fuzz:
	$(GO) test ./codes -run '^$$' -fuzz '^FuzzClassify$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	$(GO) test ./codes -run '^$$' -fuzz '^FuzzPushback$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	$(GO) test ./codes -run '^$$' -fuzz '^FuzzRejectionWire$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	$(GO) test ./codes -run '^$$' -fuzz '^FuzzParseClass$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	$(GO) test ./internal/codename -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	@if [ -d config ]; then $(GO) test ./config -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME); fi
	@if [ -d config ]; then $(GO) test ./config -run '^$$' -fuzz '^FuzzSyntaxErrorLine$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME); fi
	@if [ -d config ]; then $(GO) test ./config -run '^$$' -fuzz '^FuzzParseServiceConfig$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME); fi
	@if [ -d config ]; then $(GO) test ./config -run '^$$' -fuzz '^FuzzParseSeconds$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME); fi
	$(GO) test ./interceptors -run '^$$' -fuzz '^FuzzServiceConfig$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	$(GO) test ./interceptors -run '^$$' -fuzz '^FuzzLoadBuilds$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	$(GO) test ./interceptors -run '^$$' -fuzz '^FuzzServiceConfigBuilds$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	$(GO) test ./interceptors -run '^$$' -fuzz '^FuzzSuiteInvariants$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	$(GO) test ./interceptors/ratelimit -run '^$$' -fuzz '^FuzzLocalMatchesRate$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	$(GO) test ./interceptors/fallback -run '^$$' -fuzz '^FuzzNewTarget$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	cd examples && $(GO) test ./mlstub/stub -run '^$$' -fuzz '^FuzzParseFailSpec$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	cd examples && $(GO) test ./mlstub/stub -run '^$$' -fuzz '^FuzzAdminFaults$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	cd examples && $(GO) test ./mlstub/stub -run '^$$' -fuzz '^FuzzAdminOutage$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	cd examples && $(GO) test ./mlstub/stub -run '^$$' -fuzz '^FuzzReadScript$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	cd examples && $(GO) test ./mlstub/stub -run '^$$' -fuzz '^FuzzParseServices$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	cd examples && $(GO) test ./mlstub/stub -run '^$$' -fuzz '^FuzzReadTags$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	cd examples && $(GO) test ./mlstub -run '^$$' -fuzz '^FuzzParseFlags$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	cd examples && $(GO) test ./orchestrator/app -run '^$$' -fuzz '^FuzzParseFlags$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	cd examples && $(GO) test ./orchestrator/app -run '^$$' -fuzz '^FuzzDependencyWords$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	cd examples && $(GO) test ./internal/flagrule -run '^$$' -fuzz '^FuzzExplain$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)
	cd examples && $(GO) test ./internal/tlsflags -run '^$$' -fuzz '^FuzzFlags$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME)

## bench: micro-benchmarks of every module but benchmarks/, -count $(COUNT), summarised by
## benchstat, then the comparison module's report
bench: $(BIN)/benchstat
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) $(TEST_PKGS) | tee bench.out
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

## lint: golangci-lint over every module, each go.mod tidy, go.work listing every module
lint: $(BIN)/golangci-lint tidy-check work-check
	$(BIN)/golangci-lint run $(PKGS)

## tidy-check: each module's go.mod and go.sum are tidy, checked as a user builds the module
## (GOWORK=off: its own requirements and its replace directives, not the workspace's)
tidy-check:
	@for m in $(MODULES); do \
		(cd $$m && GOWORK=off $(GO) mod tidy -diff) || { echo "go.mod of $$m is not tidy: cd $$m && GOWORK=off go mod tidy"; exit 1; }; \
	done

## work-check: MODULES, go.work's use lines and the go.mod files in the tree name the same
## directories, so that no module is left out of the tests
work-check:
	@want=$$(for m in $(MODULES); do echo "$$m"; done | sort); \
	used=$$($(GO) work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p' | sed 's|^\./||; s|^$$|.|' | sort); \
	found=$$(git ls-files --cached --others --exclude-standard '*go.mod' ':!:*/testdata/*' | sed 's|/\?go.mod$$||; s|^$$|.|' | sort); \
	if [ "$$want" != "$$used" ] || [ "$$want" != "$$found" ]; then \
		echo "MODULES, go.work and the go.mod files differ:"; echo "MODULES:" $$want; echo "go.work:" $$used; echo "go.mod files:" $$found; exit 1; fi

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
