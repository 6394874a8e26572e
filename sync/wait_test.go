package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/coderfleet/coderfleet/sync/internal/r53fake"
)

// TestWaitInsyncUsesTheRetryBackoff checks that polling GetChange sleeps,
// on the injected clock, the waits of the retry policy's backoff (the SDK's
// jittered one by default), the last one cut at ChangeTimeout.
func TestWaitInsyncUsesTheRetryBackoff(t *testing.T) {
	ctx := context.Background()
	f := r53fake.New()
	zone := f.AddZone("coderdemo.io")
	n := 0
	submit := func() string {
		n++
		rr := &r53types.ResourceRecordSet{Name: aws.String(fmt.Sprintf("t%d.coderdemo.io", n)), Type: "TXT", TTL: aws.Int64(60),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(`"x"`)}}}
		out, err := f.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: &zone,
			ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: "CREATE", ResourceRecordSet: rr}}}})
		if err != nil {
			t.Fatal(err)
		}
		return *out.ChangeInfo.Id
	}
	syncer := func(b retry.BackoffDelayer) (*syncer, *fakeClock) {
		clock := newFakeClock()
		return &syncer{clock: clock, opts: Options{Clients: Clients{Route53: f}, ChangeTimeout: time.Minute,
			Retry: RetryPolicy{MaxAttempts: 3, MaxDelay: 20 * time.Second, Backoff: b}}}, clock
	}
	fixed := retry.BackoffDelayerFunc(func(attempt int, err error) (time.Duration, error) {
		if !errors.Is(err, errNotReady) {
			t.Errorf("backoff got %v, want errNotReady", err)
		}
		return time.Duration(attempt) * 3 * time.Second, nil
	})

	// Two PENDING answers: a wait after the status of the submission and
	// after each of them.
	f.PendingPolls = 2
	s, clock := syncer(fixed)
	f.Calls = map[string]int{}
	if err := s.waitInsync(ctx, submit(), string(r53types.ChangeStatusPending)); err != nil {
		t.Fatal(err)
	}
	if got, want := clock.slept(), []time.Duration{3 * time.Second, 6 * time.Second, 9 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
	if f.Calls["GetChange"] != 3 {
		t.Errorf("%d GetChange calls, want 3", f.Calls["GetChange"])
	}

	// Never INSYNC: the last wait ends at the bound, then the error with its hint.
	f.PendingPolls = 100
	s, clock = syncer(fixed)
	s.opts.ChangeTimeout = 10 * time.Second
	err := s.waitInsync(ctx, submit(), string(r53types.ChangeStatusPending))
	if err == nil || !strings.Contains(err.Error(), "not INSYNC after 10s (hint: it will complete on its own") {
		t.Errorf("err = %v", err)
	}
	if got, want := clock.slept(), []time.Duration{3 * time.Second, 6 * time.Second, time.Second}; !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}

	// The default policy's waits are the SDK's full jitter.
	f.PendingPolls = 1
	rec := &recordingBackoff{next: DefaultRetryPolicy.backoff()}
	s, clock = syncer(rec)
	s.opts.Retry.MaxDelay = DefaultRetryPolicy.MaxDelay
	s.opts.ChangeTimeout = time.Hour
	const runs = 20
	for range runs {
		if err := s.waitInsync(ctx, submit(), string(r53types.ChangeStatusPending)); err != nil {
			t.Fatal(err)
		}
	}
	checkJitteredWaits(t, rec.waits(), clock.slept(), 2*runs, DefaultRetryPolicy.MaxDelay)
}
