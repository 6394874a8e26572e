// Package chartstest serves Helm charts to tests on loopback: a chart
// repository (index.yaml plus .tgz archives) over HTTP, and an OCI registry
// (the distribution project's registry, in process, in memory, plain HTTP).
// Archives are packaged by Helm's own chartutil.Save from chart folders the
// tests keep under testdata. Every server is stopped by t.Cleanup.
package chartstest
