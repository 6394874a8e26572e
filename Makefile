# coderfleet — the two commands of the README are `make render` and `make test`.
GO      ?= go
SHELL   := /bin/bash
.SHELLFLAGS := -o pipefail -c
PKGS    ?= ./...
# The whole suite (with the API server and moto end-to-end tests) fits well
# inside CI's 90 minutes; the timeout turns a hang into a failure.
TESTFLAGS ?= -timeout 60m

.PHONY: render check test test-pkgs test-e2e test-fuzz golden build fuzz vet fmt

## render: render the example fleet (overlays/ + templates/) into regions/
render:
	$(GO) run ./cmd/coderfleet render

## check: verify the committed regions/ is current
check:
	$(GO) run ./cmd/coderfleet check

## test: go vet, then three parts at once: every package's tests (golden, end-to-end
## against moto), the end-to-end tests against a real API server (its dry-run prints
## its count of accepted objects per region) and each fuzz target briefly. Each part's
## output is printed whole when it ends (make --output-sync); any failure fails make test.
## (docs/testing.md: where the time goes)
test:
	$(GO) vet $(PKGS)
	@echo "make test: running test-pkgs, test-e2e and test-fuzz at once; each one's output follows when it ends"
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-pkgs test-e2e test-fuzz

## test-pkgs: the tests of every package but e2e
test-pkgs:
	$(GO) test $(TESTFLAGS) $$($(GO) list $(PKGS) | grep -v '/e2e$$')

## test-e2e: the end-to-end tests against a real API server, verbose but filtered
test-e2e:
	$(GO) test $(TESTFLAGS) -v ./e2e/ | grep -vE '^(=== |--- PASS|PASS$$)|^    [a-z_]+_test\.go:[0-9]+: (checking|kubetest|installed|cluster|.*objects accepted)' 

## test-fuzz: each fuzz target for 3000 inputs
test-fuzz:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3000x

## golden: rewrite every golden file: golden/*/regions and reviewdiff/testdata/*/want.*
## (read the diff before committing)
golden:
	$(GO) test ./golden ./reviewdiff -run TestGolden -update

## build: build the coderfleet binary into ./bin
build:
	$(GO) build -o bin/coderfleet ./cmd/coderfleet

## fuzz: run each fuzz target for FUZZTIME (default 1m). make test runs 3000 inputs
## each (FUZZTIME=3000x): a count, not a duration, so a busy machine takes longer
## instead of failing when replaying the cached corpus outlasts the time
FUZZTIME ?= 1m
fuzz:
	$(GO) test ./awsstate -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./awsstate -run '^$$' -fuzz '^FuzzParseOutputs$$' -fuzztime $(FUZZTIME)
	$(GO) test ./config -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)

fmt:
	gofmt -w $$(git ls-files '*.go')

-include mk/*.mk
