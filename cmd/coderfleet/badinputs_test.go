package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/coderfleet/coderfleet/internal/testfleet"
	"github.com/coderfleet/coderfleet/internal/treeio"
)

// badInputsDir holds the bad-input corpus: one folder per case, each a
// small defect applied to a copy of the example fleet (see its README.md).
const badInputsDir = "testdata/badinputs"

// caseTimeout only turns a hung case into a failure: a case that reaches
// AWS (a bug) fails at once on refusedAWS's answer, so a slow, loaded
// machine never meets it.
const caseTimeout = 10 * time.Minute

// minBadInputs is the size below which the corpus counts as thinned.
const minBadInputs = 60

// badInput is a case's case.yaml: how to run the CLI over the broken fleet
// and what its error must say.
type badInput struct {
	// Args are the CLI arguments; --repo <copy> is appended. Default: render.
	Args []string `json:"args"`
	// Exit is the expected exit code (3 invalid input, 64 usage, ...).
	Exit int `json:"exit"`
	// File is the repository-relative file stderr must name.
	File string `json:"file"`
	// Line is the line stderr must name as file:line; 0 when the input
	// has no line (a missing or empty file, a fleet-wide rule).
	Line int `json:"line"`
	// Phrase is a phrase of the message.
	Phrase string `json:"phrase"`
	// Why says in one sentence what the defect is and why it is refused.
	Why string `json:"why"`
	// Symlinks maps repository-relative link paths to their targets
	// (absolute, or relative to the link), created by the test because
	// links cannot be stored portably in testdata.
	Symlinks map[string]string `json:"symlinks"`
	// Subprocess runs the CLI in a child process (this test binary
	// re-executed) instead of in-process: for cases that may crash the
	// process or leave an abandoned evaluation running.
	Subprocess bool `json:"subprocess"`
	// KnownBug, when set, describes how coderfleet currently mishandles
	// the case; the case still runs and is reported as a failure.
	KnownBug string `json:"known_bug"`
	// Kind names the kind of mistake the case belongs to, one of
	// corpusKinds; empty for the cases that predate the kinds.
	Kind string `json:"kind"`
}

// corpusKinds are the kinds of mistake the corpus is organised by (the
// field-hardening issue): each kind must keep at least one case, so a
// refusal that regresses for a whole kind shows up by name.
var corpusKinds = map[string]string{
	"reserved-name": "user-chosen names colliding with names coderfleet owns",
	"cross-field":   "rules that involve several settings",
	"aws-limit":     "limits and rules AWS documents for the names, ARNs and values coderfleet writes",
	"desired-scope": "desired-state scope limited to the folders that exist",
	"credential":    "credentials in plain values",
	"chart":         "Helm charts through helmTemplate",
}

// loadBadInputs reads every case folder of the corpus, sorted by name.
func loadBadInputs(t *testing.T) (names []string, cases map[string]*badInput) {
	t.Helper()
	entries, err := os.ReadDir(badInputsDir)
	if err != nil {
		t.Fatalf("reading the corpus: %v", err)
	}
	cases = map[string]*badInput{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(badInputsDir, e.Name(), "case.yaml"))
		if err != nil {
			t.Fatalf("case %s: %v", e.Name(), err)
		}
		c := &badInput{}
		if err := yaml.UnmarshalStrict(data, c); err != nil {
			t.Fatalf("case %s: case.yaml: %v", e.Name(), err)
		}
		if len(c.Args) == 0 {
			c.Args = []string{"render"}
		}
		if c.Exit == 0 || c.File == "" || c.Phrase == "" || strings.TrimSpace(c.Why) == "" {
			t.Fatalf("case %s: case.yaml needs exit, file, phrase and why", e.Name())
		}
		if _, ok := corpusKinds[c.Kind]; c.Kind != "" && !ok {
			t.Fatalf("case %s: unknown kind %q (known: %s)", e.Name(), c.Kind, strings.Join(slices.Sorted(maps.Keys(corpusKinds)), ", "))
		}
		names = append(names, e.Name())
		cases[e.Name()] = c
	}
	sort.Strings(names)
	return names, cases
}

func TestBadInputsCorpusSize(t *testing.T) {
	names, cases := loadBadInputs(t)
	if len(names) < minBadInputs {
		t.Errorf("the corpus has %d cases, want at least %d", len(names), minBadInputs)
	}
	whys := map[string]string{}
	for _, n := range names {
		why := strings.ToLower(strings.TrimSpace(cases[n].Why))
		if prev, dup := whys[why]; dup {
			t.Errorf("cases %s and %s give the same why: %q; each case is a distinct defect", prev, n, cases[n].Why)
		}
		whys[why] = n
	}
	byKind := map[string][]string{}
	for _, n := range names {
		byKind[cases[n].Kind] = append(byKind[cases[n].Kind], n)
	}
	for _, k := range slices.Sorted(maps.Keys(corpusKinds)) {
		if len(byKind[k]) == 0 {
			t.Errorf("kind %q (%s) has no case", k, corpusKinds[k])
			continue
		}
		t.Logf("%s (%s): %d cases: %s", k, corpusKinds[k], len(byKind[k]), strings.Join(byKind[k], ", "))
	}
	t.Logf("earlier cases without a kind: %d", len(byKind[""]))
}

// refusingAWS is a loopback AWS endpoint that answers every request with
// AccessDeniedException and remembers what was asked.
type refusingAWS struct {
	URL  string
	mu   gosync.Mutex
	seen []string
}

// refusedAWS starts a refusingAWS; once the test and its subtests are done,
// any request it saw is a failure naming the requests.
func refusedAWS(t *testing.T) *refusingAWS {
	r := &refusingAWS{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen = append(r.seen, req.Method+" "+req.Host+req.URL.Path+" "+req.Header.Get("X-Amz-Target"))
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"__type":"AccessDeniedException","message":"the bad-inputs test refuses every AWS request: no case may reach AWS"}`)
	}))
	r.URL = srv.URL
	t.Cleanup(func() {
		srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.seen) > 0 {
			t.Errorf("%d AWS request(s) were made; no bad input may reach AWS: %s", len(r.seen), strings.Join(r.seen, "; "))
		}
	})
	return r
}

// TestBadInputs runs every case of the corpus through the CLI in-process
// and checks the exit code, that stderr names the file (and file:line) and
// the phrase, and that the committed regions/ tree is byte-for-byte
// unchanged with no work folder left behind.
func TestBadInputs(t *testing.T) {
	names, cases := loadBadInputs(t)
	// No case may reach AWS: the endpoint refuses every request at once
	// (403, which neither the SDK nor sync retries), which shows up as exit
	// 4 instead of the expected 3, and counts it. Set on the parent, so the
	// parallel subtests all see it.
	aws := refusedAWS(t)
	fake := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL":            aws.URL,
		"AWS_ACCESS_KEY_ID":           "AKIAFAKEFAKEFAKEFAKE",
		"AWS_SECRET_ACCESS_KEY":       "fake",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "us-east-1",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(fake, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(fake, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_MAX_ATTEMPTS":            "1",
	} {
		t.Setenv(k, v)
	}
	for _, name := range names {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			problems := runBadInput(t, filepath.Join(badInputsDir, name), c)
			switch {
			case c.KnownBug != "" && len(problems) == 0:
				t.Errorf("case is marked known_bug %q but now behaves: remove the marker", c.KnownBug)
			case c.KnownBug != "":
				t.Errorf("KNOWN BUG: %s\n%s", c.KnownBug, strings.Join(problems, "\n"))
			case len(problems) > 0:
				t.Errorf("%s\n%s", c.Why, strings.Join(problems, "\n"))
			}
		})
	}
}

// runBadInput applies one case to a fresh copy of the example fleet, runs
// the CLI and returns what did not behave.
func runBadInput(t *testing.T, dir string, c *badInput) []string {
	repo := testfleet.CopyRepo(t, "overlays", "templates", "regions")
	if data, err := os.ReadFile(filepath.Join(dir, "delete.txt")); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if !filepath.IsLocal(l) {
				t.Fatalf("delete.txt: %q is not a repository-relative path", l)
			}
			if err := os.RemoveAll(filepath.Join(repo, filepath.FromSlash(l))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "files")); err == nil {
		files := map[string]string{}
		for p, data := range testfleet.ReadDir(t, dir, "files") {
			files[strings.TrimPrefix(p, "files/")] = data
		}
		testfleet.WriteDisk(t, repo, files)
	}
	for link, target := range c.Symlinks {
		if !filepath.IsLocal(link) {
			t.Fatalf("symlinks: %q is not a repository-relative path", link)
		}
		full := filepath.Join(repo, filepath.FromSlash(link))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(full); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}

	regions := filepath.Join(repo, "regions")
	before, err := treeio.Read(regions)
	if err != nil {
		t.Fatal(err)
	}
	beforeNames := dirNames(t, regions)

	args := append(append([]string{}, c.Args...), "--repo", repo)
	var stdout, stderr bytes.Buffer
	var code int
	if c.Subprocess {
		code = runChild(t, args, &stdout, &stderr)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
		code = run(ctx, args, &stdout, &stderr)
		cancel()
	}
	msg := strings.ReplaceAll(stderr.String(), repo+string(filepath.Separator), "")

	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if code != c.Exit {
		fail("exit code %d, want %d", code, c.Exit)
	}
	if !strings.Contains(msg, c.File) {
		fail("stderr does not name the file %q", c.File)
	} else if c.Line > 0 && !strings.Contains(msg, fmt.Sprintf("%s:%d", c.File, c.Line)) &&
		!strings.Contains(msg, fmt.Sprintf("%q:%d", c.File, c.Line)) {
		fail("stderr does not name the place %s:%d", c.File, c.Line)
	}
	if !strings.Contains(msg, c.Phrase) {
		fail("stderr lacks the phrase %q", c.Phrase)
	}

	after, err := treeio.Read(regions)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := treeDiff(before, after); len(diffs) > 0 {
		if len(diffs) > 5 {
			diffs = append(diffs[:5], fmt.Sprintf("and %d more", len(diffs)-5))
		}
		fail("regions/ changed: %s", strings.Join(diffs, "; "))
	}
	afterNames := dirNames(t, regions)
	for _, n := range afterNames {
		if strings.HasPrefix(n, ".coderfleet-") {
			fail("work folder regions/%s left behind", n)
		}
	}
	if strings.Join(beforeNames, ",") != strings.Join(afterNames, ",") {
		fail("regions/ entries changed: %v -> %v", beforeNames, afterNames)
	}
	if len(problems) > 0 {
		problems = append(problems, "stderr:\n"+clip(msg), "stdout:\n"+clip(stdout.String()))
	}
	return problems
}

// childArgsEnv carries the CLI arguments to a re-executed test binary.
const childArgsEnv = "CODERFLEET_BADINPUT_ARGS"

// TestBadInputsChild is not a test: it is the CLI's main when runChild
// re-executes this binary, and does nothing otherwise.
func TestBadInputsChild(t *testing.T) {
	data := os.Getenv(childArgsEnv)
	if data == "" {
		return
	}
	var args []string
	if err := yaml.Unmarshal([]byte(data), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(99)
	}
	os.Exit(run(context.Background(), args, os.Stdout, os.Stderr))
}

// runChild runs the CLI with args in a child process and returns its exit
// code; a crash (a Go fatal error exits 2) is returned as it is.
func runChild(t *testing.T, args []string, stdout, stderr *bytes.Buffer) int {
	t.Helper()
	data, err := yaml.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*caseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBadInputsChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(data))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		t.Fatalf("running the child process: %v", err)
		return -1
	}
}

// clip shortens a report to its first lines (a crash dumps every goroutine).
func clip(s string) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > 12 {
		return strings.Join(lines[:12], "") + fmt.Sprintf("... (%d more lines)\n", len(lines)-12)
	}
	return s
}

// dirNames lists the entries of dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

// treeDiff lists the files that differ between two reads of regions/.
func treeDiff[T ~map[string][]byte](before, after map[string]T) []string {
	var diffs []string
	for region, files := range before {
		for p, data := range files {
			got, ok := after[region][p]
			switch {
			case !ok:
				diffs = append(diffs, "removed "+path.Join(region, p))
			case !bytes.Equal(got, data):
				diffs = append(diffs, "modified "+path.Join(region, p))
			}
		}
	}
	for region, files := range after {
		for p := range files {
			if _, ok := before[region][p]; !ok {
				diffs = append(diffs, "added "+path.Join(region, p))
			}
		}
	}
	sort.Strings(diffs)
	return diffs
}
