package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func ms(v ...int) series {
	var s series
	for i, x := range v {
		s = append(s, sample{wall: time.Duration(x) * time.Millisecond, rssKB: int64(1000 * (i + 1))})
	}
	return s
}

func TestSeriesStats(t *testing.T) {
	s := ms(30, 10, 20)
	if s.median() != 20*time.Millisecond || s.min() != 10*time.Millisecond || s.max() != 30*time.Millisecond {
		t.Errorf("median/min/max = %v/%v/%v, want 20ms/10ms/30ms", s.median(), s.min(), s.max())
	}
	if got := ms(40, 10, 30, 20).median(); got != 25*time.Millisecond {
		t.Errorf("even median = %v, want 25ms", got)
	}
	s[0].cpu, s[1].cpu, s[2].cpu = 5*time.Millisecond, 7*time.Millisecond, 6*time.Millisecond
	if s.medianCPU() != 6*time.Millisecond {
		t.Errorf("median CPU = %v, want 6ms", s.medianCPU())
	}
	if s.peakRSSKB() != 3000 {
		t.Errorf("peak RSS = %d, want 3000", s.peakRSSKB())
	}
	if (series{}).median() != 0 {
		t.Error("median of nothing is not 0")
	}
}

func TestTargets(t *testing.T) {
	r := &results{
		example:  ms(400),
		exampleN: 3,
		sizes: []sizeResult{
			{n: 1, cold: ms(100)},
			{n: 100, cold: append(ms(4000), sample{wall: 4 * time.Second, rssKB: 400 * 1024}), noop: ms(300), changed: ms(150), pipeline: ms(50000)},
		},
	}
	want := map[string]string{
		"100 regions cold render ≤ 5 s":                            "met",
		"100 regions cold render peak RSS ≤ 300 MB":                "missed",
		"example fleet (3 regions) cold render ≤ 0.5 s":            "met",
		"no-op re-render of 100 regions ≤ 5 % of cold":             "missed",
		"one changed region (of 100) ≤ 2× cold render of 1 region": "met",
		"≥ 10× faster than the CLI pipeline at 100 regions":        "met",
	}
	got := r.targets()
	if len(got) != len(want) {
		t.Fatalf("%d targets, want %d", len(got), len(want))
	}
	for _, tg := range got {
		if want[tg.name] != tg.verdict {
			t.Errorf("%s: %s (%s), want %s", tg.name, tg.verdict, tg.measured, want[tg.name])
		}
	}
	md := report(r)
	for _, s := range []string{"| 100 |", "**missed**", "12.5×", "7.5 %"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q:\n%s", s, md)
		}
	}
	if n := (&results{}).targets(); n[0].verdict != "not measured" {
		t.Errorf("no sizes: %v, want not measured", n[0])
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkRender/regions=1-2   	      30	  40000000 ns/op	        40.00 ms/region	18528856 B/op	  169425 allocs/op
BenchmarkRender/regions=1-2   	      30	  44000000 ns/op	        44.00 ms/region	18528856 B/op	  169425 allocs/op
BenchmarkRender/regions=1-2   	      30	  42000000 ns/op	        42.00 ms/region	18528856 B/op	  169425 allocs/op
BenchmarkRenderExample-2      	       6	 186513611 ns/op	52187272 B/op	  465750 allocs/op
PASS
`
	g := parseGoBench([]byte(out))
	if len(g) != 2 || g[0].name != "BenchmarkRender/regions=1-2" || g[0].runs != 3 {
		t.Fatalf("parsed %+v", g)
	}
	if g[0].med("ns/op") != 42000000 || g[0].med("ms/region") != 42 || g[1].med("allocs/op") != 465750 || g[1].med("ms/region") != 0 {
		t.Errorf("medians: %v %v %v", g[0].med("ns/op"), g[0].med("ms/region"), g[1].med("allocs/op"))
	}
}

func TestSplitDocs(t *testing.T) {
	for in, want := range map[string]int{
		"a: 1\n":                             1,
		"a: 1\n---\nb: 2\n":                  2,
		"---\na: 1\n---\n# only a comment\n": 1,
		"k: |\n  ---\n  x\n---\nb: 1\n":      2,
		"":                                   0,
	} {
		if got := len(splitDocs([]byte(in))); got != want {
			t.Errorf("splitDocs(%q) = %d documents, want %d", in, got, want)
		}
	}
}

func TestPrepareOverlay(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "overlay")
	ok, err := prepareOverlay(src, dst)
	if ok || err != nil {
		t.Fatalf("no kustomization: %v, %v; want false, nil", ok, err)
	}
	for name, data := range map[string]string{
		"region.yaml":        "name: x\n",
		"kustomization.yaml": "patches:\n  - path: p.yaml\n",
		"p.yaml":             "kind: Deployment\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := prepareOverlay(src, dst); !ok || err != nil {
		t.Fatalf("prepareOverlay = %v, %v", ok, err)
	}
	k, _ := os.ReadFile(filepath.Join(dst, "kustomization.yaml"))
	if !strings.HasSuffix(string(k), "resources:\n  - ../base\n") {
		t.Errorf("kustomization.yaml = %q, want ../base added", k)
	}
	if _, err := os.Stat(filepath.Join(dst, "region.yaml")); !os.IsNotExist(err) {
		t.Errorf("region.yaml was copied (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "p.yaml")); err != nil {
		t.Errorf("the patch was not copied: %v", err)
	}
}
