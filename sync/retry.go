package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// RetryPolicy bounds the retries of one AWS call.
type RetryPolicy struct {
	// MaxAttempts is the number of tries, the first included.
	MaxAttempts int
	// MaxDelay caps one wait.
	MaxDelay time.Duration
	// Backoff computes the wait before the next try from the 1-based number
	// of the try that failed; nil means the AWS SDK's
	// retry.NewExponentialJitterBackoff(MaxDelay): "full jitter", a uniformly
	// random wait in [0, 2^n s) after the n-th try, MaxDelay once 2^n s
	// exceeds it (aws-sdk-go-v2 aws/retry; the AWS Architecture Blog,
	// "Exponential Backoff And Jitter"). The wait is slept on Options.Clock.
	Backoff retry.BackoffDelayer
}

// DefaultRetryPolicy suits Route53's five requests per second limit: jittered
// waits spread the retries of parallel calls instead of retrying in step.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 8, MaxDelay: 20 * time.Second}

// backoff returns p's BackoffDelayer, the SDK's jittered one by default.
func (p RetryPolicy) backoff() retry.BackoffDelayer {
	if p.Backoff != nil {
		return p.Backoff
	}
	return retry.NewExponentialJitterBackoff(p.MaxDelay)
}

var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)
var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// retryable reports whether err is worth retrying: throttling,
// PriorRequestNotComplete, 5xx responses and broken connections, as the SDK
// classifies them.
func retryable(err error) bool {
	return retryables.IsErrorRetryable(err) == aws.TrueTernary
}

// ambiguous reports whether the request may have reached AWS and taken effect
// although it failed (a 5xx or a dropped connection, not a throttle).
func ambiguous(err error) bool {
	return retryable(err) && throttles.IsErrorThrottle(err) != aws.TrueTernary
}

// errorCode returns the AWS error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// callResult tells the caller whether any failed attempt was ambiguous.
type callResult struct {
	attempts  int
	ambiguous bool
}

// retryPolicy returns Options.Retry, or DefaultRetryPolicy when it is zero.
func (s *syncer) retryPolicy() RetryPolicy {
	if s.opts.Retry.MaxAttempts <= 0 {
		return DefaultRetryPolicy
	}
	return s.opts.Retry
}

// call runs fn with retries and backoff through the injected clock.
func (s *syncer) call(ctx context.Context, what string, fn func(ctx context.Context) error) (callResult, error) {
	p := s.retryPolicy()
	backoff := p.backoff()
	var res callResult
	for {
		res.attempts++
		err := fn(ctx)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		if !retryable(err) || res.attempts >= p.MaxAttempts {
			if res.attempts > 1 {
				return res, fmt.Errorf("%s (after %d attempts): %w", what, res.attempts, err)
			}
			return res, fmt.Errorf("%s: %w", what, err)
		}
		if ambiguous(err) {
			res.ambiguous = true
		}
		delay, derr := backoff.BackoffDelay(res.attempts, err)
		if derr != nil {
			return res, fmt.Errorf("%s: computing the retry delay: %w", what, derr)
		}
		s.retries.Add(1)
		s.progressf("  retrying %s in %s: %s\n", what, delay.Round(time.Millisecond), shortErr(err))
		if err := s.clock.Sleep(ctx, delay); err != nil {
			return res, fmt.Errorf("%s: %w", what, err)
		}
	}
}

func shortErr(err error) string {
	if c := errorCode(err); c != "" {
		return c
	}
	if endpoint, cause, ok := Unreachable(err); ok {
		if endpoint == "" { // the endpoint is not known: no empty "()"
			return cause
		}
		return cause + " (" + endpoint + ")"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed"
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "..."
	}
	return msg
}

// Unreachable reports whether err is a failure to reach an AWS endpoint at
// all (a refused or timed-out connection, an unknown host), as opposed to
// an answer from AWS. It returns the endpoint as scheme://host (empty when
// unknown) and the cause in a few words, such as "connection refused".
func Unreachable(err error) (endpoint, cause string, ok bool) {
	var api smithy.APIError
	if errors.As(err, &api) {
		return "", "", false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			endpoint = u.Scheme + "://" + u.Host
		}
	}
	var dns *net.DNSError
	var sys *os.SyscallError
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		return endpoint, "no such host " + dns.Name, true
	case errors.As(err, &op) && errors.As(op, &sys):
		return endpoint, sys.Err.Error(), true
	case errors.As(err, &op):
		if op.Timeout() {
			return endpoint, "connection timed out", true
		}
		return endpoint, op.Err.Error(), true
	case ue != nil && ue.Timeout():
		return endpoint, "no answer in time", true
	}
	return "", "", false
}

// errNotReady is the error a poll hands its BackoffDelayer: the state waited
// for (a change INSYNC, validation records) is not there yet.
var errNotReady = errors.New("not ready yet")

// errWaitTimeout is what waitFor returns when timeout passed first.
var errWaitTimeout = errors.New("timed out")

// waitFor polls ready until it reports true, sleeping on the injected clock
// between polls the waits the retry policy's backoff computes (by default
// the SDK's jittered exponential backoff, capped at MaxDelay), the n-th
// wait after the n-th poll; the last wait ends at the bound. It returns
// ready's error, or errWaitTimeout once timeout has passed since the first
// poll without ready reporting true.
func (s *syncer) waitFor(ctx context.Context, timeout time.Duration, ready func(ctx context.Context) (bool, error)) error {
	backoff := s.retryPolicy().backoff()
	deadline := s.clock.Now().Add(timeout)
	for n := 1; ; n++ {
		ok, err := ready(ctx)
		if err != nil || ok {
			return err
		}
		left := deadline.Sub(s.clock.Now())
		if left <= 0 {
			return errWaitTimeout
		}
		delay, err := backoff.BackoffDelay(n, errNotReady)
		if err != nil {
			return fmt.Errorf("computing the poll delay: %w", err)
		}
		if err := s.clock.Sleep(ctx, min(delay, left)); err != nil {
			return err
		}
	}
}
