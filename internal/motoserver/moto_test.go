package motoserver

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartAnswersThenStops(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.URL + "/moto-api/")
	if err != nil {
		t.Fatalf("moto_server does not answer right after Start: %v", err)
	}
	resp.Body.Close()
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Stop() // a second Stop is harmless
	if _, err := http.Get(s.URL + "/moto-api/"); err == nil {
		t.Errorf("moto_server still answers after Stop")
	}
}

// A moto_server that exits before listening is an error carrying its output,
// found at once rather than after a bound.
func TestStartReportsAnEarlyExit(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'ImportError: no module named werkzeug' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "moto_server"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	_, err := Start()
	if err == nil || !strings.Contains(err.Error(), "exited before listening") || !strings.Contains(err.Error(), "werkzeug") {
		t.Fatalf("Start = %v, want an early-exit error with the output", err)
	}
}
