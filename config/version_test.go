package config

import "testing"

// TestExactVersion pins what an add-on's version may be: one exact
// semantic version as Masterminds/semver parses it strictly.
func TestExactVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"1.13.2": true, "v1.13.2": true, "0.0.1": true, "1.2.3-rc.1": true, "1.2.3+build.5": true, "1.2.3-rc.1+b": true,
		"": false, "1.2": false, "1": false, "^1.6": false, "~1.2.3": false, ">=1.0.0": false, "1.x": false, "1.2.*": false,
		"01.2.3": false, "1.2.3-": false, "1.2.3-rc..1": false, "vv1.2.3": false, "1.2.3 ": false, "latest": false,
	} {
		if got := exactVersion(v); got != want {
			t.Errorf("exactVersion(%q) = %v, want %v", v, got, want)
		}
	}
}
