# Real Kubernetes API server for the tests (issue 6).
#
# kube-bins builds kube-apiserver and etcd from the separate tools module in
# tools/kube (or finds them in the cache, $XDG_CACHE_HOME/coderfleet/kube/<key>/,
# falling back to ~/.cache) and prints their paths. The first build takes about
# 15 minutes on 2 cores; later runs take seconds. The tests build on demand
# too, but running this first keeps the slow build out of `go test`'s timeout.
#
# e2e runs the end-to-end tests verbosely so the per-region counts show.
# CODERFLEET_CRDS_DIR overrides the CRD folder (default ../shared/crds).

GO ?= go

.PHONY: kube-bins e2e

kube-bins:
	$(GO) run ./internal/kubetest/cmd/build-kube

e2e: kube-bins
	$(GO) test -count=1 -v -run . ./e2e/ ./internal/kubetest/
