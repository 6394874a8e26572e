// Package golden holds the renderer's golden test cases: each folder
// golden/<case>/ has a small fleet's inputs (overlays/) and the regions/
// tree it must render to with the repository's templates/. Refresh the
// expected trees with `go test ./golden -update` (or `make golden`) and
// read the diff before committing it.
package golden
