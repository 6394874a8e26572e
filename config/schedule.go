package config

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// gaps memoizes scheduleGap: every region of a fleet usually shares the
// same schedules, and longestGap scans a whole year of them.
var gaps sync.Map // spec + "\x00" + time zone name -> gapResult

type gapResult struct {
	gap   time.Duration
	never bool
}

// scheduleGap is longestGap of spec in the time zone named tz (UTC when
// the name is unknown), computed once per process for each spec and zone.
func scheduleGap(spec, tz string) (gap time.Duration, never bool) {
	key := spec + "\x00" + tz
	if r, ok := gaps.Load(key); ok {
		g := r.(gapResult)
		return g.gap, g.never
	}
	gap, never = longestGap(spec, location(tz))
	gaps.Store(key, gapResult{gap, never})
	return gap, never
}

// probeStep is the grid on which longestGap first samples a schedule.
const probeStep = time.Hour

// longestGap returns the longest time between two consecutive runs of the
// five-field cron schedule spec (as a Kubernetes CronJob reads it, parsed by
// github.com/robfig/cron/v3) in the time zone loc, including the runs a
// daylight-saving change skips. never is true when the schedule does not run
// at all (such as "0 0 30 2 *"). spec must already be valid.
//
// It samples one leap year (2024, so 29 February counts) every probeStep:
// the wait from a sample to the next run is at most the gap it falls in and
// at least that gap minus probeStep. The samples that may lie in the longest
// gap are then refined minute by minute (cron's resolution) after the
// previous sample, so the result is exact. When every sample's wait is within probeStep, every hour of
// every day has a run and the days differ only where the clock changes, so
// the first day and each day that is not 24 hours long are scanned by the
// minute instead.
func longestGap(spec string, loc *time.Location) (gap time.Duration, never bool) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return 0, false
	}
	if ss, ok := s.(*cron.SpecSchedule); ok {
		ss.Location = loc
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, loc)
	end := start.AddDate(1, 0, 0)
	type sample struct {
		at   time.Time
		wait time.Duration
	}
	var samples []sample
	var coarse time.Duration
	for t := start; t.Before(end); t = t.Add(probeStep) {
		next := s.Next(t)
		if next.IsZero() {
			return 0, true
		}
		w := next.Sub(t)
		samples = append(samples, sample{t, w})
		coarse = max(coarse, w)
	}
	// scan returns the longest wait from a minute in [from, to) to the next
	// run: at a run's minute that is exactly the gap after the run.
	scan := func(from, to time.Time) time.Duration {
		var longest time.Duration
		for t := from; t.Before(to); t = t.Add(time.Minute) {
			longest = max(longest, s.Next(t).Sub(t))
		}
		return longest
	}
	gap = coarse
	if coarse > probeStep {
		for i, smp := range samples {
			if smp.wait < coarse-probeStep {
				continue
			}
			switch {
			case i > 0 && samples[i-1].wait == smp.wait+probeStep:
				// The previous sample is in the same gap and was refined.
			case i > 0 && samples[i-1].wait == probeStep:
				// A run falls on this sample: its wait is the gap.
			default:
				gap = max(gap, scan(smp.at.Add(-probeStep), smp.at))
			}
		}
		return gap, false
	}
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		next := d.AddDate(0, 0, 1)
		if d.Equal(start) || next.Sub(d) != 24*time.Hour {
			gap = max(gap, scan(d, next))
		}
	}
	return gap, false
}

// formatDuration writes d compactly in hours and minutes ("168h",
// "12h15m", "15m"; under a minute as Go writes it), the form the duration
// settings themselves accept, so a message's figure can be pasted back into
// fleet.yaml.
func formatDuration(d time.Duration) string {
	if d < time.Minute {
		return d.String()
	}
	var b strings.Builder
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	return b.String()
}
