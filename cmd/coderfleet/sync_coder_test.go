package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/internal/coderapi"
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
			Name: "us-west-2", DisplayName: "Oregon", Icon: "/emojis/1f310.png", TokenSecret: tok("coder-proxy-token")}}},
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
	return readAWSFile(t, filepath.Join(repo, "regions", "us-west-2", "aws", awsstate.RecordsFile)).Fleet
}

// readAWSFile reads and parses a desired-state file of regions/<r>/aws/.
func readAWSFile(t *testing.T, p string) *awsstate.File {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := awsstate.Parse(p, b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSyncCoderEnvironment: without CODER_URL, sync plan says once that the
// Coder part is skipped and what the desired state lists; CODER_URL
// without a token is a usage error naming both; with both, apply
// registers the proxy and key, and neither the session token nor the
// tokens it stored appear in any output.
func TestSyncCoderEnvironment(t *testing.T) {
	// Certificates issue after 1 s, not moto's default 60 s.
	motoWithZone(t, "sync-coder-test", "MOTO_ACM_VALIDATION_WAIT=1")
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
	checkNoTokens(t, tokens, repo, map[string]string{"the output": pout + perrs + aout + aerrs + out + errs})
}

// TestSyncApplyInterruptedAfterProxyCreate interrupts a sync apply process
// the way Ctrl-C does (its context is cancelled) as soon as coderd has
// created the workspace proxy, before the token is stored (sync's own test,
// TestCoderApplyKilledBetweenCreateAndStore, interrupts the library at the
// same point): the run fails without printing a token, the next plan says
// the proxy is recovered, and the next apply re-issues the token without a
// second proxy.
func TestSyncApplyInterruptedAfterProxyCreate(t *testing.T) {
	// Certificates issue after 1 s, not moto's default 60 s.
	motoWithZone(t, "sync-coder-interrupted", "MOTO_ACM_VALIDATION_WAIT=1")
	repo := exampleCopy(t) // its rendered workspaceproxies.yaml and provisionerkeys.yaml
	const session = "session-token-of-the-interrupted-run-7d1e"
	fake := fakecoderd.New(fakecoderd.Options{OwnerToken: session, Premium: true, Organizations: []string{"coder", "experiment", "demo"}})
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fake.Handler().ServeHTTP(w, r)
		if r.Method == http.MethodPost && r.URL.Path == "/api/v2/workspaceproxies" {
			interrupt()
		}
	}))
	t.Cleanup(srv.Close)
	coderEnv(t, map[string]string{envCoderURL: srv.URL, envCoderToken: session})

	var out, errb bytes.Buffer
	code := run(ctx, []string{"sync", "apply", "--auto-approve", "--repo", repo, "--region", "us-west-2"}, &out, &errb)
	said := out.String() + errb.String()
	if code != exitRuntime || len(fake.Proxies()) != 1 {
		t.Fatalf("interrupted apply: exit %d (want %d), %d proxies in coderd (want the 1 created)\n%s", code, exitRuntime, len(fake.Proxies()), said)
	}
	id := fake.Proxies()[0].ID
	code, pout, perrs := cli(t, "sync", "plan", "--repo", repo, "--region", "us-west-2")
	if code != exitOK || !strings.Contains(pout, "interrupted before storing its token") {
		t.Errorf("plan after the interruption: exit %d, does not recover the proxy\n%s%s", code, pout, perrs)
	}
	code, aout, aerrs := cli(t, "sync", "apply", "--auto-approve", "--repo", repo, "--region", "us-west-2")
	if code != exitOK {
		t.Fatalf("apply after the interruption: exit %d\n%s%s", code, aout, aerrs)
	}
	if p := fake.Proxies(); len(p) != 1 || p[0].ID != id {
		t.Errorf("after recovery coderd has %d proxies, want the one created before (%s): %+v", len(p), id, p)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-west-2"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("coderdemo/us-west-2/coder-proxy/coder-proxy")})
	if err != nil {
		t.Fatal(err)
	}
	token := aws.ToString(v.SecretString)
	c, err := coderapi.New(srv.URL, session, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RegisterWorkspaceProxy(context.Background(), token, coderapi.RegisterWorkspaceProxyRequest{
		AccessURL: "https://us-west-2.coder.example.com", ReplicaID: "0c6d5d1e-3f4a-4b7e-9d2a-6f1e8b7c5a40", Version: "v2.26.3"}); err != nil {
		t.Errorf("the re-issued token does not register the proxy: %v", err)
	}
	// Only the region's records and roles wait (no NLB, no cluster): no
	// Coder change is left.
	if code, out, errs := cli(t, "sync", "plan", "--repo", repo, "--region", "us-west-2"); code != exitOK ||
		strings.Contains(out, "workspace-proxy") || strings.Contains(out, "provisioner-key") || !strings.Contains(out, "us-west-2/us-west-2: registered, coderd reports ok") {
		t.Errorf("plan after recovery: exit %d, Coder changes left\n%s%s", code, out, errs)
	}
	checkNoTokens(t, []string{token, session}, repo, map[string]string{"the output": said + pout + perrs + aout + aerrs})
}
