package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/coderfleet/coderfleet/internal/phasetime"
)

// TestParseTraceReadsRecorderOutput reads back what the binary prints with
// CODERFLEET_TRACE=1, among other output, and refuses output without it.
func TestParseTraceReadsRecorderOutput(t *testing.T) {
	rec := phasetime.New(time.Now())
	rec.Add("load config", 12*time.Millisecond)
	rec.Add("evaluate", 30*time.Millisecond)
	rec.Add("load config", 3*time.Millisecond)
	var out bytes.Buffer
	out.WriteString("written:   proxy-099\nwarning: something\n")
	rec.Write(&out)
	got, err := parseTrace(out.Bytes(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.phases) != 2 || got.phases[0].Name != "load config" || got.phases[0].D != 15*time.Millisecond || got.phases[1].Name != "evaluate" || got.phases[1].D != 30*time.Millisecond {
		t.Errorf("phases = %+v", got.phases)
	}
	if got.total <= 0 || got.total > time.Second || got.startup() != time.Second-got.total {
		t.Errorf("total %s, startup %s", got.total, got.startup())
	}
	if _, err := parseTrace([]byte("written: x\n"), time.Second); err == nil || !strings.Contains(err.Error(), "predates the trace") {
		t.Errorf("output without a trace: %v", err)
	}
}

// TestBreakdownMediansAndTargets16 checks the per-step medians and the
// issue 16 verdicts on made-up results.
func TestBreakdownMediansAndTargets16(t *testing.T) {
	run := func(wall, total, eval time.Duration) tracedRun {
		return tracedRun{wall: wall, total: total, phases: []phasetime.Phase{{Name: "evaluate", D: eval}}}
	}
	rows := breakdown([]tracedRun{run(100*time.Millisecond, 80*time.Millisecond, 50*time.Millisecond), run(120*time.Millisecond, 90*time.Millisecond, 70*time.Millisecond), run(90*time.Millisecond, 80*time.Millisecond, 60*time.Millisecond)})
	want := []phaseRow{{"process start, package init, exit (wall − the binary's total)", 20 * time.Millisecond}, {"evaluate", 60 * time.Millisecond}, {"wall time of the process", 100 * time.Millisecond}}
	if len(rows) != len(want) {
		t.Fatalf("rows = %+v", rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
	cpu := func(d time.Duration) series { return series{{wall: d, cpu: d}} }
	r := &results{sizes: []sizeResult{{n: 100, changed: cpu(50 * time.Millisecond), jsonnetProcs: 100, jsonnetTime: cpu(6 * time.Second),
		cold: cpu(4 * time.Second), pipeline: cpu(14 * time.Second), copyTree: cpu(200 * time.Millisecond)}}}
	got := r.targets16()
	if len(got) != 2 || got[0].verdict != "met" || got[1].verdict != "met" || !strings.Contains(got[1].measured, "cp -r") {
		t.Errorf("targets = %+v", got)
	}
	r.sizes[0].changed = cpu(70 * time.Millisecond)
	r.sizes[0].cold = cpu(7 * time.Second)
	if got := r.targets16(); got[0].verdict != "missed" || got[1].verdict != "missed" {
		t.Errorf("targets = %+v", got)
	}
}
