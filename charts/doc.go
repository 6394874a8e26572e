// Package charts vendors third-party Helm charts into the repository and
// renders them in-process for the Jsonnet templates.
//
// The flow has three steps, each a function of this package:
//
//   - templates/charts/charts.yaml lists the charts (name, repository as
//     https:// or oci://, exact version, delivery mode). [LoadConfig] and
//     [ParseConfig] read it strictly.
//   - [Vendor] pulls every listed chart with Helm's own getters (a chart
//     repository's index.yaml, or an OCI registry), checks its digest and its
//     Chart.yaml, unpacks it under templates/charts/<name>/<version>/, removes
//     stale versions and writes templates/charts/charts.lock: the sha256 of
//     each archive, a digest of each unpacked tree and the Helm library version.
//   - [NewRenderer] verifies the vendored files against the lock (so every
//     render fails on a tampered file or a forgotten vendor) and exposes the
//     Jsonnet native function helmTemplate, which renders a vendored chart with
//     Helm's loader and engine: no network, no cluster, fixed capabilities,
//     values validated against values.schema.json, output sorted, each
//     distinct render done once however many regions ask for it.
//
// The package reads and writes files only through a
// sigs.k8s.io/kustomize/kyaml/filesys.FileSystem, and reaches the network only
// through the [Fetcher] given to [Vendor]; [NewHelmFetcher] builds the real one
// at the edge of the program.
package charts
