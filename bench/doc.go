// Package bench holds coderfleet's in-process Go benchmarks (render.Render
// over synthetic fleets of 1, 10 and 100 regions on an in-memory
// filesystem) and the results of `make bench`: results.md, written by
// cmd/coderfleet-bench, and gobench.txt, the raw `go test -bench` output
// for benchstat. Benchmarks are not part of `make test`:
//
//	go test -bench . -run '^$' ./bench/
package bench
