package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// wait is one delay a backoff computed: after which try, and how long.
type wait struct {
	attempt int
	delay   time.Duration
}

// recordingBackoff passes to next and records what it computed.
type recordingBackoff struct {
	next retry.BackoffDelayer
	mu   gosync.Mutex
	got  []wait
}

func (b *recordingBackoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	d, derr := b.next.BackoffDelay(attempt, err)
	b.mu.Lock()
	b.got = append(b.got, wait{attempt, d})
	b.mu.Unlock()
	return d, derr
}

func (b *recordingBackoff) waits() []wait {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}

// jitterBound is the exclusive upper bound of the SDK's full-jitter wait
// after try n: 2^n seconds, or exactly maxDelay once that is reached.
func jitterBound(n int, maxDelay time.Duration) (bound time.Duration, capped bool) {
	if n > int(math.Log2(float64(maxDelay)/float64(time.Second))) {
		return maxDelay, true
	}
	return time.Duration(1<<n) * time.Second, false
}

// checkJitteredWaits checks that there was one wait per retry, each within
// the SDK's bounds, each slept on the clock, and that the first retries'
// waits are spread (jitter), not one fixed delay.
func checkJitteredWaits(t *testing.T, waits []wait, slept []time.Duration, retries int, maxDelay time.Duration) {
	t.Helper()
	if len(waits) != retries {
		t.Errorf("%d backoff delays computed for %d retries", len(waits), retries)
	}
	first := map[time.Duration]bool{}
	for _, w := range waits {
		bound, capped := jitterBound(w.attempt, maxDelay)
		if capped && w.delay != bound || !capped && (w.delay < 0 || w.delay >= bound) {
			t.Errorf("wait after try %d is %s, outside the jitter bounds [0, %s)", w.attempt, w.delay, bound)
		}
		if i := slices.Index(slept, w.delay); i < 0 {
			t.Errorf("wait %s after try %d was not slept on the injected clock (slept %v)", w.delay, w.attempt, slept)
		} else {
			slept = slices.Delete(slept, i, i+1)
		}
		if w.attempt == 1 {
			first[w.delay] = true
		}
	}
	if len(first) < 2 {
		t.Errorf("the first retries all waited the same (%v): no jitter", waits)
	}
}

// TestCallSleepsTheBackoffOnTheClock drives call with a backoff that returns
// fixed delays, so what is slept, printed and returned is exact.
func TestCallSleepsTheBackoffOnTheClock(t *testing.T) {
	throttle := &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	var progress bytes.Buffer
	clock := newFakeClock()
	var asked []int
	s := &syncer{clock: clock, opts: Options{Progress: &progress, Retry: RetryPolicy{MaxAttempts: 3, MaxDelay: time.Minute,
		Backoff: retry.BackoffDelayerFunc(func(attempt int, err error) (time.Duration, error) {
			if !errors.Is(err, throttle) {
				t.Errorf("backoff got error %v, want the throttle", err)
			}
			asked = append(asked, attempt)
			return time.Duration(attempt) * 1500 * time.Millisecond, nil
		})}}}
	tries := 0
	res, err := s.call(context.Background(), "listing things", func(context.Context) error { tries++; return throttle })
	if err == nil || !strings.Contains(err.Error(), "listing things (after 3 attempts)") {
		t.Fatalf("err = %v", err)
	}
	if tries != 3 || res.attempts != 3 || res.ambiguous {
		t.Errorf("tries %d, result %+v; want 3 tries, not ambiguous", tries, res)
	}
	if want := []int{1, 2}; !slices.Equal(asked, want) {
		t.Errorf("backoff asked after tries %v, want %v", asked, want)
	}
	if got, want := clock.slept(), []time.Duration{1500 * time.Millisecond, 3 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
	want := "  retrying listing things in 1.5s: Throttling\n  retrying listing things in 3s: Throttling\n"
	if progress.String() != want {
		t.Errorf("progress:\n%s\nwant:\n%s", progress.String(), want)
	}

	// A backoff that cannot compute a delay ends the call with its error.
	s.opts.Retry.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, fmt.Errorf("no randomness") })
	if _, err := s.call(context.Background(), "listing things", func(context.Context) error { return throttle }); err == nil ||
		!strings.Contains(err.Error(), "computing the retry delay: no randomness") {
		t.Errorf("err = %v", err)
	}
}

// TestDefaultBackoffIsTheSDKsJitter checks the default policy's waits stay
// within the SDK's full-jitter bounds, reach the cap, and vary.
func TestDefaultBackoffIsTheSDKsJitter(t *testing.T) {
	b := DefaultRetryPolicy.backoff()
	if _, ok := b.(*retry.ExponentialJitterBackoff); !ok {
		t.Fatalf("default backoff is %T, want *retry.ExponentialJitterBackoff", b)
	}
	var waits []wait
	for n := 1; n < DefaultRetryPolicy.MaxAttempts; n++ {
		for range 20 {
			d, err := b.BackoffDelay(n, errors.New("x"))
			if err != nil {
				t.Fatal(err)
			}
			waits = append(waits, wait{n, d})
		}
	}
	slept := make([]time.Duration, len(waits))
	for i, w := range waits {
		slept[i] = w.delay
	}
	checkJitteredWaits(t, waits, slept, len(waits), DefaultRetryPolicy.MaxDelay)
	if last := waits[len(waits)-1]; last.delay != DefaultRetryPolicy.MaxDelay {
		t.Errorf("wait after try %d is %s, want the cap %s", last.attempt, last.delay, DefaultRetryPolicy.MaxDelay)
	}
}

// TestShortErrNamesTheEndpointOnlyWhenKnown: a retry line reads
// "use of closed network connection", not "… ()", when the failure names
// no endpoint, and "connection refused (http://h:1)" when it does.
func TestShortErrNamesTheEndpointOnlyWhenKnown(t *testing.T) {
	closed := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("use of closed network connection")}
	if got := shortErr(closed); got != "use of closed network connection" {
		t.Errorf("no endpoint: %q", got)
	}
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	if got := shortErr(refused); got != "connection refused (http://127.0.0.1:1)" {
		t.Errorf("with endpoint: %q", got)
	}
}
