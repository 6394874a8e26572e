package main

import (
	"net"
	"os"
	"strings"
	"testing"
)

// noAWSEnv clears every way the SDK's default chain finds credentials or a
// profile, so nothing of the machine's own AWS configuration is used.
func noAWSEnv(t *testing.T) {
	awsEnv(t, "") // empty config files, IMDS disabled
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_MAX_ATTEMPTS"} {
		t.Setenv(k, "")
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// checkOneLineAWSError checks that a sync run failed with exit 4 and that
// stderr is progress lines (prefix "  ") then one error line, holding want
// and a hint, with none of the SDK's own text.
func checkOneLineAWSError(t *testing.T, code int, errs string, want ...string) (progress []string) {
	t.Helper()
	if code != exitRuntime {
		t.Fatalf("exit %d, want %d\n%s", code, exitRuntime, errs)
	}
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	last := lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, "  retrying ") {
			t.Errorf("stderr line other than a retry before the error: %q", l)
		}
	}
	if !strings.HasPrefix(last, "error: ") || !strings.Contains(last, " (hint: ") || !strings.HasSuffix(last, ")") {
		t.Errorf("last line is not one error with a hint: %q", last)
	}
	for _, w := range want {
		if !strings.Contains(last, w) {
			t.Errorf("error lacks %q: %s", w, last)
		}
	}
	for _, sdk := range []string{"operation error", "SDK ", "WARN", "failed to refresh cached credentials", "StatusCode", "ec2imds"} {
		if strings.Contains(errs, sdk) {
			t.Errorf("stderr holds the SDK's %q:\n%s", sdk, errs)
		}
	}
	return lines[:len(lines)-1]
}

// An endpoint that does not answer is retried, each retry shown, and ends
// as one line naming the endpoint and AWS_ENDPOINT_URL.
func TestSyncUnreachableEndpointIsOneLine(t *testing.T) {
	repo := exampleCopy(t)
	noAWSEnv(t)
	addr := closedPort(t)
	t.Setenv("AWS_ENDPOINT_URL", "http://"+addr)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake")
	t.Setenv("AWS_MAX_ATTEMPTS", "2") // one retry, 500ms apart
	for _, verb := range [][]string{{"plan"}, {"apply", "--auto-approve"}} {
		code, _, errs := cli(t, append(append([]string{"sync"}, verb...), "--repo", repo)...)
		progress := checkOneLineAWSError(t, code, errs,
			"reading AWS state: looking up hosted zone example.com (after 2 attempts): cannot reach the AWS endpoint http://"+addr+": connection refused",
			`AWS_ENDPOINT_URL is "http://`+addr+`"`)
		if len(progress) != 1 || !strings.Contains(progress[0], "connection refused") {
			t.Errorf("%s: want one retry line naming the cause, got %q", verb, progress)
		}
	}
}

// With no credentials anywhere, sync says so in one line with the fix.
func TestSyncWithoutCredentialsIsOneLine(t *testing.T) {
	repo := exampleCopy(t)
	noAWSEnv(t)
	t.Setenv("AWS_ENDPOINT_URL", "http://"+closedPort(t)) // never reached: signing fails first
	for _, verb := range [][]string{{"plan"}, {"apply", "--auto-approve"}} {
		code, _, errs := cli(t, append(append([]string{"sync"}, verb...), "--repo", repo)...)
		if p := checkOneLineAWSError(t, code, errs, "no AWS credentials found", "AWS_PROFILE", "aws sso login", "AWS_ACCESS_KEY_ID"); len(p) != 0 {
			t.Errorf("%s: missing credentials were retried: %q", verb, p)
		}
	}
	// A profile that is not configured, then one without credentials: the
	// hint names it.
	t.Setenv("AWS_PROFILE", "platform")
	code, _, errs := cli(t, "sync", "plan", "--repo", repo)
	if code != exitRuntime || !strings.Contains(errs, `profile "platform" (AWS_PROFILE) is not in `) || !strings.Contains(errs, "aws configure sso --profile platform") || strings.Count(errs, "\n") != 1 {
		t.Errorf("AWS_PROFILE not configured: exit %d\n%s", code, errs)
	}
	if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte("[profile platform]\nregion = us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = cli(t, "sync", "plan", "--repo", repo)
	checkOneLineAWSError(t, code, errs, "no AWS credentials found", `AWS_PROFILE is "platform"`, "aws sso login --profile platform")
}
