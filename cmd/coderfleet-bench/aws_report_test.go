package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// awsOut is `make bench-aws` output with every benchmark of the AWS side.
const awsOut = `goos: linux
BenchmarkStatus-2              	       3	 900000000 ns/op	      1500 median-ms	       100.0 serving-regions	       400.0 aws-calls/op	15.00 ms/region
BenchmarkSyncPlanNoop-2        	       3	2000000000 ns/op	      2500 median-ms	       300.0 aws-calls/op
BenchmarkSyncApplyNoop-2       	       3	2000000000 ns/op	      2400 median-ms	       310.0 aws-calls/op	         0 mutating-calls/op
BenchmarkTerraformPlanNoop-2   	       3	9000000000 ns/op	     15000 median-ms	      1600 aws-calls/op	         0 change-batches/op	       100.0 regions
BenchmarkSyncApplyNew-2        	       3	60000000000 ns/op	     60000 median-ms	      1200 aws-calls/op	         3.000 change-batches/op	       100.0 regions	         2.000 min-batches/op
BenchmarkTerraformApplyNew-2   	       1	600000000000 ns/op	    600000 median-ms	      3000 aws-calls/op	       406.0 change-batches/op	       100.0 regions
PASS
`

func TestAWSTargets(t *testing.T) {
	gs := parseGoBench([]byte(awsOut))
	want := map[string]string{
		"status of 100 regions < 2 s (issue 14)":                                                   "met",
		"no-op sync plan, 50 ms per call, < 3 s (issue 16.3)":                                      "met",
		"no-op sync apply ≤ its plan (issue 16.3)":                                                 "met",
		"no-op sync apply changes nothing (issue 16.3)":                                            "met",
		"sync plan ≥ 5× faster than terraform plan (issue 16.4)":                                   "met",
		"sync apply of a new fleet: fewest ChangeResourceRecordSets the limits allow (issue 16.5)": "missed",
	}
	got := awsTargets(gs)
	if len(got) != len(want) {
		t.Fatalf("%d targets, want %d: %+v", len(got), len(want), got)
	}
	for _, tg := range got {
		if want[tg.name] != tg.verdict {
			t.Errorf("%s: %s (%s), want %s", tg.name, tg.verdict, tg.measured, want[tg.name])
		}
	}
	sectionHas(t, awsSection(gs, "bench/gobench-aws.txt"), "## AWS side", "| BenchmarkTerraformPlanNoop | terraform plan after terraform apply, 50 ms per call | 100 | 15000 ms | 1600 | – |",
		"| BenchmarkStatus | coderfleet status (sync.ReadStatus), onboarded fleet, no delay | 100 serving | 1500 ms | 400 | – |",
		"| sync plan ≥ 5× faster than terraform plan (issue 16.4) | terraform plan / sync plan = 6.0× (15000 ms / 2500 ms) | **met** |",
		"No-op plan, sync beside Terraform: 2500 ms vs 15000 ms wall time (terraform plan / sync plan = 6.0×, target ≥ 5×: **met**), 300 vs 1600 AWS calls.",
		"3 batches, fewest possible 2; Terraform 406",
		"60000 ms vs 600000 ms wall time (terraform apply / sync apply = 10.0×), 1200 vs 3000 AWS calls, 3 vs 406 change batches",
		"### How the AWS side is measured", "hashicorp/aws 5.100", "`-benchtime 1x`", "-parallelism=64")
}

// sectionHas fails t for each of want that md lacks.
func sectionHas(t *testing.T, md string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(md, s) {
			t.Errorf("section lacks %q:\n%s", s, md)
		}
	}
}

// TestAWSTargetsNotMeasured checks that the benchmarks another change adds
// (sync plan and apply no-op) may be absent: their targets read "not
// measured", the others are still judged.
func TestAWSTargetsNotMeasured(t *testing.T) {
	var lines []string
	for _, l := range strings.Split(awsOut, "\n") {
		if !strings.HasPrefix(l, "BenchmarkSyncPlanNoop") && !strings.HasPrefix(l, "BenchmarkSyncApplyNoop") {
			lines = append(lines, l)
		}
	}
	gs := parseGoBench([]byte(strings.Join(lines, "\n")))
	verdicts := map[string]string{}
	for _, tg := range awsTargets(gs) {
		verdicts[tg.name] = tg.verdict
	}
	for name, want := range map[string]string{
		"status of 100 regions < 2 s (issue 14)":                 "met",
		"no-op sync plan, 50 ms per call, < 3 s (issue 16.3)":    "not measured",
		"no-op sync apply ≤ its plan (issue 16.3)":               "not measured",
		"sync plan ≥ 5× faster than terraform plan (issue 16.4)": "not measured",
	} {
		if verdicts[name] != want {
			t.Errorf("%s: %q, want %q", name, verdicts[name], want)
		}
	}
	md := awsSection(gs, "x")
	if !strings.Contains(md, "| BenchmarkSyncPlanNoop | sync plan, nothing to change, 50 ms per call | – | not measured | – | – |") {
		t.Errorf("absent benchmark not shown as not measured:\n%s", md)
	}
	if awsSection(nil, "x") != "" {
		t.Error("a section without benchmarks")
	}
}

func TestReadAWSBench(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	gs, err := readAWSBench(filepath.Join(dir, "absent.txt"), &log)
	if err != nil || gs != nil || !strings.Contains(log.String(), "make bench-aws") {
		t.Errorf("absent file: %v, %v, log %q", gs, err, log.String())
	}
	p := filepath.Join(dir, "gobench-aws.txt")
	if err := os.WriteFile(p, []byte(awsOut), 0o644); err != nil {
		t.Fatal(err)
	}
	gs, err = readAWSBench(p, &log)
	if err != nil || len(gs) != 6 || awsBench(gs, "BenchmarkSyncApplyNew").med("min-batches/op") != 2 {
		t.Errorf("read %d benchmarks, %v", len(gs), err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := readAWSBench(filepath.Join(dir, "d"), &log); err == nil {
		t.Error("reading a folder is no error")
	}
}

// TestAWSPlanRatioMissed checks the Terraform ratio below 5×, as a
// hand-written two-run `make bench-aws` output gives it (the second run of
// go test, BenchmarkTerraformApplyNew once, appended with its own header):
// the target row and the plan line say missed with the ratio, the apply
// line still compares the two.
func TestAWSPlanRatioMissed(t *testing.T) {
	out := `goos: linux
BenchmarkSyncPlanNoop-2        	       3	4000000000 ns/op	      4460 median-ms	       283.0 aws-calls/op	         0 mutating-calls/op	       100.0 regions
BenchmarkTerraformPlanNoop-2   	       3	9000000000 ns/op	     13380 median-ms	      1530 aws-calls/op	         0 change-batches/op	       100.0 regions
BenchmarkSyncApplyNew-2        	       3	60000000000 ns/op	     90000 median-ms	      1500 aws-calls/op	         5.000 change-batches/op	       100.0 regions	         5.000 min-batches/op
PASS
ok  	github.com/coderfleet/coderfleet/bench	900.1s
goos: linux
BenchmarkTerraformApplyNew-2   	       1	1620000000000 ns/op	   1620000 median-ms	      3137 aws-calls/op	       406.0 change-batches/op	       100.0 regions
PASS
ok  	github.com/coderfleet/coderfleet/bench	1700.2s
`
	gs := parseGoBench([]byte(out))
	if len(gs) != 4 {
		t.Fatalf("parsed %d benchmarks from the two runs, want 4", len(gs))
	}
	var ratio *target
	for _, tg := range awsTargets(gs) {
		if tg.name == planRatioTarget {
			ratio = &tg
		}
	}
	if ratio == nil || ratio.verdict != "missed" || ratio.measured != "terraform plan / sync plan = 3.0× (13380 ms / 4460 ms)" {
		t.Errorf("ratio target: %+v, want missed at 3.0× (13380 ms / 4460 ms)", ratio)
	}
	sectionHas(t, awsSection(gs, "bench/gobench-aws.txt"),
		"| sync plan ≥ 5× faster than terraform plan (issue 16.4) | terraform plan / sync plan = 3.0× (13380 ms / 4460 ms) | **missed** |",
		"No-op plan, sync beside Terraform: 4460 ms vs 13380 ms wall time (terraform plan / sync plan = 3.0×, target ≥ 5×: **missed**), 283 vs 1530 AWS calls.",
		"Apply of a new fleet, sync beside Terraform: 90000 ms vs 1620000 ms wall time (terraform apply / sync apply = 18.0×), 1500 vs 3137 AWS calls, 5 vs 406 change batches.",
		"fewest ChangeResourceRecordSets the limits allow (issue 16.5) | 5 batches, fewest possible 5; Terraform 406 | **met** |")
}

// TestKeepHandWritten: rewriting the report keeps what follows the marker
// line in the old file, and only that.
func TestKeepHandWritten(t *testing.T) {
	old := []byte("# old generated tables\n\n" + handWrittenMarker + "\n\n## measured by hand\n\nfigures\n")
	got := keepHandWritten("# new generated tables\n", old)
	want := "# new generated tables\n\n" + handWrittenMarker + "\n\n## measured by hand\n\nfigures\n"
	if got != want {
		t.Errorf("keepHandWritten = %q, want %q", got, want)
	}
	if got := keepHandWritten("# new\n", []byte("# old, no marker\n")); got != "# new\n" {
		t.Errorf("without a marker: %q", got)
	}
	if got := keepHandWritten("# new\n", nil); got != "# new\n" {
		t.Errorf("without an old report: %q", got)
	}
	data, err := os.ReadFile("../../bench/results.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("\n"+handWrittenMarker+"\n")) {
		t.Errorf("bench/results.md lacks the line %q: make bench would drop its hand-written sections", handWrittenMarker)
	}
}
