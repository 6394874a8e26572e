// Package e2e checks rendered manifests against a real Kubernetes API server.
//
// [LoadTree] reads every object of a regions tree (the committed regions/
// folder or a golden case's expected output); a [Checker] installs CRDs, applies
// Namespaces for real and server-side dry-runs everything else, and its
// [Report] names each rejected object with region, component, kind,
// namespace/name and the API server's message, and counts accepted objects per
// region. Kinds whose API group the server does not serve (a CRD folder was
// missing) are reported as not checked instead of being silently passed.
//
// The tests of this package start the server with internal/kubetest.
package e2e
