# make bench (issue 7): measure coderfleet against the one-process-per-step
# pipeline (go-jsonnet CLI + kubectl kustomize) on synthetic fleets of 1, 10
# and 100 regions, and run the in-process Go benchmarks.
#
# Writes bench/gobench.txt (raw `go test -bench` output of the render
# benchmarks, -count 5, for benchstat), bench/gobench-aws.txt (the AWS side:
# status, sync and Terraform against moto_server, 100 regions, 50 ms per call
# through a proxy; needs moto_server, terraform and the hashicorp/aws provider
# in /opt/tf-plugins; takes up to two and a half hours, see bench-aws) and bench/results.md (the report, with machine details and the
# issue's targets marked met or missed). Binaries go to BENCH_CACHE, outside
# the repository. Run it on a quiet machine: the report records the load
# average. Not part of `make test`.
#
#   make bench                                  # the full run (several minutes)
#   make bench BENCH_FLAGS='-sizes 1,10 -reps 3' # a quicker look

GO              ?= go
BENCH_CACHE     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/coderfleet/bench
BENCH_FLAGS     ?=
BENCH_GOFLAGS   ?= -count 5 -timeout 30m
JSONNET_VERSION ?= v0.22.0

.PHONY: bench bench-bins bench-go bench-aws

## bench-bins: build coderfleet, the harness and the go-jsonnet CLI into BENCH_CACHE
bench-bins:
	mkdir -p $(BENCH_CACHE)
	$(GO) build -o $(BENCH_CACHE)/coderfleet ./cmd/coderfleet
	$(GO) build -o $(BENCH_CACHE)/coderfleet-bench ./cmd/coderfleet-bench
	GOBIN=$(BENCH_CACHE) $(GO) install github.com/google/go-jsonnet/cmd/jsonnet@$(JSONNET_VERSION)

## bench-go: the in-process render benchmarks, raw output in bench/gobench.txt
bench-go:
	$(GO) test -bench '^BenchmarkRender' -run '^$$' $(BENCH_GOFLAGS) ./bench/ > bench/gobench.txt || { cat bench/gobench.txt; exit 1; }
	cat bench/gobench.txt

## bench-aws: status, sync and Terraform against moto_server (issues 14, 16), raw output in
## bench/gobench-aws.txt (CODERFLEET_BENCH_REGIONS=10 for a quicker look). Two runs of go test,
## 150 minutes at most in all: every benchmark but one 3 times (-benchtime 3x, up to 90 min),
## then BenchmarkTerraformApplyNew once (-benchtime 1x, up to 60 min): at Terraform's default
## -parallelism=10 one apply of a new 100-region fleet takes 15-30 minutes, most of it the
## provider's fixed 15 s wait before asking whether each record's change is INSYNC.
bench-aws:
	$(GO) test -run '^$$' -bench '^Benchmark(Status|Sync|TerraformPlanNoop$$)' -benchtime 3x -count 1 -timeout 90m ./bench/ > bench/gobench-aws.txt || { cat bench/gobench-aws.txt; exit 1; }
	$(GO) test -run '^$$' -bench '^BenchmarkTerraformApplyNew$$' -benchtime 1x -count 1 -timeout 60m ./bench/ >> bench/gobench-aws.txt || { cat bench/gobench-aws.txt; exit 1; }
	cat bench/gobench-aws.txt

## bench: everything above, then the harness; writes bench/results.md
bench: bench-bins bench-go bench-aws
	$(BENCH_CACHE)/coderfleet-bench -coderfleet $(BENCH_CACHE)/coderfleet -jsonnet $(BENCH_CACHE)/jsonnet \
		-src . -out bench/results.md -gobench bench/gobench.txt -gobench-aws bench/gobench-aws.txt \
		-commit "$$(git describe --always --dirty 2>/dev/null || echo unknown)" $(BENCH_FLAGS)
