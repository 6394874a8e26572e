// Package phasetime records how long the phases of one coderfleet command
// take, for the timing breakdown `CODERFLEET_TRACE=1 coderfleet render`
// prints to stderr (README, "Rendering is incremental"; the benchmark
// harness cmd/coderfleet-bench reads it). It is off unless asked for: a nil
// *Recorder records nothing, so callers need no checks.
package phasetime

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// EnvVar turns the breakdown on when set to a non-empty value other than "0".
const EnvVar = "CODERFLEET_TRACE"

// Prefix starts every line Write prints, so the lines can be told apart
// from warnings on the same stream.
const Prefix = "coderfleet-trace: "

// Phase is one timed step: its name and its duration. Phases recorded more
// than once (such as a step run by each worker) are summed.
type Phase struct {
	Name string
	D    time.Duration
}

// Recorder collects phases in the order they are first recorded; safe for
// concurrent use. The zero value is not usable: call New.
type Recorder struct {
	mu     sync.Mutex
	start  time.Time
	phases []Phase
	index  map[string]int
}

// FromEnv returns a Recorder started now when EnvVar asks for one, or nil.
func FromEnv() *Recorder {
	if v := os.Getenv(EnvVar); v == "" || v == "0" {
		return nil
	}
	return New(time.Now())
}

// New returns a Recorder whose total counts from start.
func New(start time.Time) *Recorder {
	return &Recorder{start: start, index: map[string]int{}}
}

// Start begins phase name and returns the function that ends it (adding
// its duration to the phase). On a nil Recorder it does nothing.
func (r *Recorder) Start(name string) (end func()) {
	if r == nil {
		return func() {}
	}
	t := time.Now()
	return func() { r.Add(name, time.Since(t)) }
}

// Add adds d to phase name. On a nil Recorder it does nothing.
func (r *Recorder) Add(name string, d time.Duration) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.index[name]
	if !ok {
		i = len(r.phases)
		r.index[name] = i
		r.phases = append(r.phases, Phase{Name: name})
	}
	r.phases[i].D += d
}

// Phases returns the recorded phases in the order first recorded.
func (r *Recorder) Phases() []Phase {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Phase(nil), r.phases...)
}

// Write prints one line per phase, "coderfleet-trace: <name> <ms> ms", then
// "coderfleet-trace: total <ms> ms" (the time since the Recorder started, in
// main: what the phases leave out is process start and package
// initialisation, and the wall time of work spread over workers), with
// milliseconds to three decimals. On a nil Recorder it prints nothing.
func (r *Recorder) Write(w io.Writer) {
	if r == nil {
		return
	}
	for _, p := range r.Phases() {
		fmt.Fprintf(w, "%s%s %.3f ms\n", Prefix, p.Name, ms(p.D))
	}
	fmt.Fprintf(w, "%stotal %.3f ms\n", Prefix, ms(time.Since(r.start)))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
