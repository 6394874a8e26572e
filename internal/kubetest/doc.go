// Package kubetest starts a real Kubernetes API server for tests.
//
// The API server and its etcd are not downloaded: they are built from Go
// modules by the separate tools module in tools/kube (k8s.io/kubernetes and
// go.etcd.io/etcd/server/v3) and cached outside the repository, keyed by a hash
// of that module's go.mod, go.sum and main files plus the Go toolchain, so only
// the first run pays for the build. [Start] launches etcd and kube-apiserver on
// free loopback ports with a static token, service-account keys generated for
// the test and a throw-away certificate directory, waits for /readyz and stops
// both processes when the test ends.
//
// A missing toolchain or a failed build is a test failure that carries the
// build's output; nothing is ever skipped.
package kubetest
