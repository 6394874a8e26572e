package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeStatus keeps the README's `coderfleet status --watch` example
// true: each of its lines, in order, is a line of what the status test
// printed for the example fleet with the fake coderd (the goldens
// coder-watch.txt, stderr, then coder-serving.txt, stdout), with "..." for
// moto's random IDs and https://coder.example.com for the fake's URL; a
// line "..." stands for lines left out.
func TestReadmeStatus(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const start = "```text\n$ coderfleet status --watch\n"
	i := strings.Index(string(readme), start)
	if i < 0 {
		t.Fatalf("README.md has no block starting %q", start)
	}
	block := string(readme)[i+len(start):]
	block = block[:strings.Index(block, "```")]
	var want []string
	for _, name := range []string{"coder-watch.txt", "coder-serving.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", "status", name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.NewReplacer("<id>", "...", "<coder-url>", "https://coder.example.com").Replace(string(data))
		want = append(want, strings.Split(strings.TrimSuffix(text, "\n"), "\n")...)
	}
	at := 0
	for _, line := range strings.Split(strings.TrimSuffix(block, "\n"), "\n") {
		if line == "..." {
			continue
		}
		j := at
		for j < len(want) && want[j] != line {
			j++
		}
		if j == len(want) {
			t.Errorf("README.md's status example has %q, which the status test does not print there (see cmd/coderfleet/testdata/status/coder-*.txt)", line)
			continue
		}
		at = j + 1
	}
}
