package phasetime

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestRecorderSumsInFirstOrderAndNilIsSilent checks the order, the sums,
// the printed lines, and that a nil Recorder records and prints nothing.
func TestRecorderSumsInFirstOrderAndNilIsSilent(t *testing.T) {
	r := New(time.Now())
	r.Add("b", time.Millisecond)
	r.Add("a", 2*time.Millisecond)
	r.Add("b", 500*time.Microsecond)
	r.Start("c")()
	got := r.Phases()
	if len(got) != 3 || got[0] != (Phase{"b", 1500 * time.Microsecond}) || got[1] != (Phase{"a", 2 * time.Millisecond}) || got[2].Name != "c" {
		t.Fatalf("phases = %+v", got)
	}
	var out bytes.Buffer
	r.Write(&out)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || lines[0] != Prefix+"b 1.500 ms" || lines[1] != Prefix+"a 2.000 ms" || !strings.HasPrefix(lines[3], Prefix+"total ") {
		t.Errorf("output:\n%s", out.String())
	}

	var nilRec *Recorder
	nilRec.Add("x", time.Second)
	nilRec.Start("y")()
	out.Reset()
	nilRec.Write(&out)
	if out.Len() != 0 || nilRec.Phases() != nil {
		t.Errorf("nil recorder printed %q", out.String())
	}
}

// TestFromEnv turns the recorder on only for a value other than "" and "0".
func TestFromEnv(t *testing.T) {
	for _, c := range []struct {
		v  string
		on bool
	}{{"", false}, {"0", false}, {"1", true}, {"yes", true}} {
		t.Setenv(EnvVar, c.v)
		if got := FromEnv() != nil; got != c.on {
			t.Errorf("%s=%q: on = %v, want %v", EnvVar, c.v, got, c.on)
		}
	}
}
