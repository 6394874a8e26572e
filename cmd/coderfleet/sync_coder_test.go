package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/internal/fakecoderd"
)

// The machine's own Coder environment never reaches the tests: a test
// that wants CODER_URL or CODER_SESSION_TOKEN sets them with coderEnv.
func init() {
	getenv = func(k string) string {
		if k == envCoderURL || k == envCoderToken {
			return ""
		}
		return os.Getenv(k)
	}
}

// coderEnv makes getenv answer CODER_URL and CODER_SESSION_TOKEN from vars
// for the rest of the test.
func coderEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	prev := getenv
	getenv = func(k string) string {
		if k == envCoderURL || k == envCoderToken {
			return vars[k]
		}
		return prev(k)
	}
	t.Cleanup(func() { getenv = prev })
}

// addCoderFiles writes a workspace proxy and one provisioner key into
// regions/us-west-2/aws/ of repo.
func addCoderFiles(t *testing.T, repo string) {
	t.Helper()
	fleet := readFleetName(t, repo)
	tok := func(name string) awsstate.Secret {
		return awsstate.Secret{Name: "coder-fleet/us-west-2/" + name, AWSRegion: "us-west-2", Tags: awsstate.OwnedTags(fleet, "us-west-2", name)}
	}
	for name, f := range map[string]awsstate.File{
		awsstate.WorkspaceProxiesFile: {Kind: awsstate.KindWorkspaceProxyList, WorkspaceProxies: []awsstate.WorkspaceProxy{{
			Name: "us-west-2", DisplayName: "Oregon", TokenSecret: tok("coder-proxy-token")}}},
		awsstate.ProvisionerKeysFile: {Kind: awsstate.KindProvisionerKeyList, ProvisionerKeys: []awsstate.ProvisionerKey{{
			Name: "us-west-2-coder-ws", Organization: "coder", Tags: map[string]string{"region": "us-west-2", "namespace": "coder-ws"},
			TokenSecret: tok("provisioner-key-coder-ws")}}},
	} {
		f.Fleet, f.Region = fleet, "us-west-2"
		b, err := awsstate.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, "regions", "us-west-2", "aws", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readFleetName is the fleet of the rendered regions/us-west-2.
func readFleetName(t *testing.T, repo string) string {
	t.Helper()
	p := filepath.Join(repo, "regions", "us-west-2", "aws", awsstate.RecordsFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := awsstate.Parse(p, b)
	if err != nil {
		t.Fatal(err)
	}
	return f.Fleet
}

// TestSyncCoderEnvironment: without CODER_URL, sync plan says once that the
// Coder part is skipped and what the desired state lists; CODER_URL
// without a token is a usage error naming both; with both, apply
// registers the proxy and key, and neither the session token nor the
// tokens it stored appear in any output.
func TestSyncCoderEnvironment(t *testing.T) {
	motoWithZone(t, "sync-coder-test")
	repo := exampleCopy(t)
	addCoderFiles(t, repo)

	code, out, errs := cli(t, "sync", "plan", "--repo", repo, "--region", "us-west-2")
	if code != exitOK {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	line := "Coder part skipped: CODER_URL is not set; the desired state lists 1 workspace proxy(ies) and 1 provisioner key(s)"
	if n := strings.Count(out+errs, "Coder part skipped"); n != 1 || !strings.Contains(errs, line) {
		t.Errorf("the skip line appears %d times, want once as %q:\n%s%s", n, line, out, errs)
	}

	fake := fakecoderd.New(fakecoderd.Options{OwnerToken: "session-token-never-printed-0123456789", Premium: true})
	url, stop := fake.Start()
	t.Cleanup(stop)
	coderEnv(t, map[string]string{envCoderURL: url})
	code, out, errs = cli(t, "sync", "plan", "--repo", repo, "--region", "us-west-2")
	if code != exitUsage || !strings.Contains(errs, "CODER_URL is set but CODER_SESSION_TOKEN is not") {
		t.Errorf("CODER_URL without a token: exit %d, want %d\n%s%s", code, exitUsage, out, errs)
	}

	coderEnv(t, map[string]string{envCoderURL: url, envCoderToken: "session-token-never-printed-0123456789"})
	code, pout, perrs := cli(t, "sync", "plan", "--repo", repo, "--region", "us-west-2", "--reissue-tokens", "-o", "json")
	if code != exitOK || !strings.Contains(pout, `"address": "us-west-2/workspace-proxy/us-west-2"`) {
		t.Fatalf("plan with coderd: exit %d\n%s%s", code, pout, perrs)
	}
	code, aout, aerrs := cli(t, "sync", "apply", "--auto-approve", "--repo", repo, "--region", "us-west-2")
	if code != exitOK || len(fake.Proxies()) != 1 || len(fake.ProvisionerKeys("coder")) != 1 {
		t.Fatalf("apply: exit %d, %d proxies\n%s%s", code, len(fake.Proxies()), aout, aerrs)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-west-2"))
	if err != nil {
		t.Fatal(err)
	}
	tokens := []string{"session-token-never-printed-0123456789"}
	for _, name := range []string{"coder-fleet/us-west-2/coder-proxy-token", "coder-fleet/us-west-2/provisioner-key-coder-ws"} {
		v, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
		if err != nil {
			t.Fatalf("token secret %s: %v", name, err)
		}
		tokens = append(tokens, aws.ToString(v.SecretString))
	}
	code, out, errs = cli(t, "sync", "plan", "--repo", repo, "--region", "us-west-2")
	if code != exitOK || !strings.Contains(out, "us-west-2/us-west-2: registered, coderd reports unregistered") {
		t.Errorf("plan after apply: exit %d\n%s%s", code, out, errs)
	}
	all := pout + perrs + aout + aerrs + out + errs
	for _, tok := range tokens {
		if tok == "" || strings.Contains(all, tok) {
			t.Errorf("a token (or an empty one) appears in the output")
		}
	}
	// Nor anywhere in the repository (the lock file, outputs.yaml...).
	err = filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		for _, tok := range tokens {
			if err == nil && strings.Contains(string(b), tok) {
				t.Errorf("a token is in %s", p)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
