package config

import (
	"testing"
	"time"
)

func TestLongestGap(t *testing.T) {
	utc := time.UTC
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec  string
		loc   *time.Location
		want  time.Duration
		never bool
	}{
		{"*/15 * * * *", utc, 15 * time.Minute, false},
		{"* * * * *", utc, time.Minute, false},
		{"5,10 * * * *", utc, 55 * time.Minute, false},
		{"0 */12 * * *", utc, 12 * time.Hour, false},
		{"0 0 * * 0", utc, 7 * 24 * time.Hour, false},
		{"0 9 * * 1-5", utc, 72 * time.Hour, false},              // Friday 9:00 -> Monday 9:00
		{"* * 1 * *", utc, 30*24*time.Hour + time.Minute, false}, // the 1st, every minute; 31-day months
		{"0 0 29 2 *", utc, 4*365*24*time.Hour + 24*time.Hour, false},
		{"30 2 * * *", ny, 47 * time.Hour, false},  // skipped on the spring-forward day
		{"30 2 * * *", utc, 24 * time.Hour, false}, // no clock change
		{"0 0 30 2 *", utc, 0, true},
	} {
		got, never := longestGap(c.spec, c.loc)
		if got != c.want || never != c.never {
			t.Errorf("longestGap(%q, %s) = %s, never=%v; want %s, never=%v", c.spec, c.loc, got, never, c.want, c.never)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		7 * 24 * time.Hour: "168h", 12*time.Hour + 15*time.Minute: "12h15m", 15 * time.Minute: "15m", 30 * time.Second: "30s",
		24*time.Hour + time.Minute: "24h1m",
	} {
		got := formatDuration(d)
		if got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", d, got, want)
		}
		// What a message says can be written back as a setting.
		if back, err := time.ParseDuration(got); err != nil || back != d {
			t.Errorf("formatDuration(%s) = %q does not parse back: %v, %v", d, got, back, err)
		}
	}
}
