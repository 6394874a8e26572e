package bench_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/coderfleet/coderfleet/internal/awscalls"
	fleetsync "github.com/coderfleet/coderfleet/sync"
)

// BenchmarkSyncPlanNoop measures sync plan (fleetsync.PlanChanges) of an
// onboarded fleet that needs no change, every AWS call delayed benchDelay.
// Metrics: the median wall time of the iterations, the AWS calls per plan
// (counted by the proxy), and the fleet size.
func BenchmarkSyncPlanNoop(b *testing.B) {
	n := benchRegions(b)
	f := newAWSFleet(b, n, benchDelay)
	f.onboard(b)
	runNoop(b, f, n, func(ctx context.Context) (*fleetsync.Plan, error) {
		return fleetsync.PlanChanges(ctx, f.opts)
	})
}

// BenchmarkSyncApplyNoop measures sync apply (fleetsync.Apply) of the same
// onboarded fleet: nothing to change, so it must make no mutating call
// (mutating-calls/op, counted by the proxy) and take no longer than the
// plan it starts with.
func BenchmarkSyncApplyNoop(b *testing.B) {
	n := benchRegions(b)
	f := newAWSFleet(b, n, benchDelay)
	f.onboard(b)
	runNoop(b, f, n, func(ctx context.Context) (*fleetsync.Plan, error) {
		res, err := fleetsync.Apply(ctx, f.opts)
		if err != nil {
			return nil, err
		}
		if len(res.Applied) > 0 || len(res.Outputs) > 0 {
			b.Fatalf("a no-op apply applied %d changes and wrote %v", len(res.Applied), res.Outputs)
		}
		return res.Plan, nil
	})
}

// runNoop times run over the onboarded fleet f of n regions, checks that
// the plan it returns has no change, and reports median-ms, aws-calls/op,
// mutating-calls/op and regions; it logs the calls per operation.
func runNoop(b *testing.B, f *awsFleet, n int, run func(ctx context.Context) (*fleetsync.Plan, error)) {
	ctx := context.Background()
	before := f.proxy.Counter.Calls()
	f.calls.reset()
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		p, err := run(ctx)
		took = append(took, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Changes) > 0 {
			b.Fatalf("the onboarded fleet plans %d changes, want none (first: %s %s)", len(p.Changes), p.Changes[0].Action, p.Changes[0].Address)
		}
	}
	b.StopTimer()
	f.calls.logOps(b, len(took))
	after := f.proxy.Counter.Calls()
	calls, mutating := 0, 0
	for _, op := range slices.Sorted(maps.Keys(after)) {
		d := after[op] - before[op]
		calls += d
		if awscalls.Mutating(op) {
			mutating += d
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "median-ms")
	b.ReportMetric(float64(calls)/float64(len(took)), "aws-calls/op")
	b.ReportMetric(float64(mutating)/float64(len(took)), "mutating-calls/op")
	b.ReportMetric(float64(n), "regions")
}
