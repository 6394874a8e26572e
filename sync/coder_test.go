package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/internal/coderapi"
	"github.com/coderfleet/coderfleet/internal/fakecoderd"
)

const coderOwnerToken = "owner-session-token-for-sync-tests"

// coderRegion is a region whose desired state is only Coder's: empty
// certificate, health check and record lists, a workspace proxy when
// proxy is set, and one provisioner key per namespace in organization org.
func coderRegion(t *testing.T, fs fstest.MapFS, region string, proxy bool, org string, namespaces ...string) {
	t.Helper()
	tok := func(name string) awsstate.Secret {
		return awsstate.Secret{Name: "demo/" + region + "/" + name, AWSRegion: region, Description: "written by coderfleet sync",
			Tags: awsstate.OwnedTags("demo", region, name)}
	}
	files := map[string]awsstate.File{
		awsstate.CertificatesFile: {Kind: awsstate.KindCertificateList},
		awsstate.HealthChecksFile: {Kind: awsstate.KindHealthCheckList},
		awsstate.RecordsFile:      {Kind: awsstate.KindRecordList, HostedZone: "coderdemo.io"},
	}
	if proxy {
		files[awsstate.WorkspaceProxiesFile] = awsstate.File{Kind: awsstate.KindWorkspaceProxyList, WorkspaceProxies: []awsstate.WorkspaceProxy{{
			Name: region, DisplayName: "Region " + region, Icon: "/emojis/1f30d.png", TokenSecret: tok("coder-proxy-token")}}}
	}
	var keys []awsstate.ProvisionerKey
	for _, ns := range namespaces {
		keys = append(keys, awsstate.ProvisionerKey{Name: region + "-" + ns, Organization: org,
			Tags: map[string]string{"region": region, "namespace": ns}, TokenSecret: tok("provisioner-key-" + ns)})
	}
	files[awsstate.ProvisionerKeysFile] = awsstate.File{Kind: awsstate.KindProvisionerKeyList, ProvisionerKeys: keys}
	for name, f := range files {
		f.Fleet, f.Region = "demo", region
		b, err := awsstate.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		fs["regions/"+region+"/aws/"+name] = &fstest.MapFile{Data: b}
	}
}

// coderEnv is moto plus a fake coderd, with a repository of two proxy
// regions (one key each) and a primary with two keys.
type coderEnv struct {
	*env
	fake   *fakecoderd.Server
	client *coderapi.Client
	repo   *repo
	out    bytes.Buffer
}

func newCoderEnv(t *testing.T, fo fakecoderd.Options) *coderEnv {
	t.Helper()
	e := &coderEnv{env: motoEnv(t, nil), repo: &repo{fs: fstest.MapFS{}}}
	if fo.OwnerToken == "" {
		fo.OwnerToken = coderOwnerToken
	}
	e.fake = fakecoderd.New(fo)
	url, stop := e.fake.Start()
	t.Cleanup(stop)
	c, err := coderapi.New(url, fo.OwnerToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	coderRegion(t, e.repo.fs, "us-east-2", false, "coder", "coder-ws", "team-a")
	coderRegion(t, e.repo.fs, "us-west-2", true, "coder", "coder-ws")
	coderRegion(t, e.repo.fs, "eu-west-2", true, "coder", "coder-ws")
	return e
}

func (e *coderEnv) opts(coder CoderAPI) Options {
	o := e.options(e.repo, newFakeClock())
	o.Coder = coder
	o.Progress = &e.out
	return o
}

// secrets returns the token secrets of the fleet in awsRegion, by name.
func (e *coderEnv) secrets(t *testing.T, awsRegion string) map[string]smtypes.SecretListEntry {
	t.Helper()
	out, err := e.sm(awsRegion).ListSecrets(context.Background(), &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]smtypes.SecretListEntry{}
	for _, s := range out.SecretList {
		m[*s.Name] = s
	}
	return m
}

// sm is a Secrets Manager client outside the counted transport.
func (e *coderEnv) sm(awsRegion string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(awsConfig(e.url, nil), func(o *secretsmanager.Options) { o.Region = awsRegion })
}

// value reads a stored token (the test may; sync never does).
func (e *coderEnv) value(t *testing.T, awsRegion, name string) string {
	t.Helper()
	out, err := e.sm(awsRegion).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("reading token secret %s: %v", name, err)
	}
	return aws.ToString(out.SecretString)
}

// proxyTokenWorks registers the proxy with token, as the proxy process does.
func (e *coderEnv) proxyTokenWorks(token string) error {
	return e.client.RegisterWorkspaceProxy(context.Background(), token, coderapi.RegisterWorkspaceProxyRequest{
		AccessURL: "https://us-west-2.coderdemo.io", ReplicaID: "5e7c6b37-8a3b-4f4b-9f63-3b8a4f1d2c10", Version: "v2.24.0"})
}

func (e *coderEnv) apply(t *testing.T, o Options) *Result {
	t.Helper()
	res, err := Apply(context.Background(), o)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, e.out.String())
	}
	return res
}

// checkNoTokens fails when any token appears in texts.
func checkNoTokens(t *testing.T, tokens []string, texts map[string]string) {
	t.Helper()
	for name, text := range texts {
		for _, tok := range tokens {
			if tok != "" && strings.Contains(text, tok) {
				t.Errorf("a token appears in %s", name)
			}
		}
	}
}

// TestCoderApplyRegistersProxiesAndKeys registers the proxies and keys,
// stores their tokens in moto's Secrets Manager (the proxy token
// registers the proxy on the fake, the key is valid on the daemon-key
// endpoint), and a second apply makes no call that changes anything.
// No token appears in any output, plan file or JSON document.
func TestCoderApplyRegistersProxiesAndKeys(t *testing.T) {
	e := newCoderEnv(t, fakecoderd.Options{Premium: true})
	o := e.opts(e.client)
	p, err := PlanChanges(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var before strings.Builder
	_ = WritePlan(&before, p, FormatText)
	for _, want := range []string{"+ workspace-proxy us-west-2/us-west-2", "+ provisioner-key us-east-2/coder/us-east-2-team-a",
		"token-secret: demo/us-west-2/coder-proxy-token (us-west-2)", "Coder workspace proxies:\n  eu-west-2/eu-west-2: not registered",
		"Plan: 6 to add"} {
		if !strings.Contains(before.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, before.String())
		}
	}
	res := e.apply(t, o)
	if got := len(e.fake.Proxies()); got != 2 {
		t.Fatalf("%d proxies in coderd, want 2", got)
	}
	if got := len(e.fake.ProvisionerKeys("coder")); got != 4 {
		t.Fatalf("%d provisioner keys in coderd, want 4", got)
	}
	proxyToken := e.value(t, "us-west-2", "demo/us-west-2/coder-proxy-token")
	if err := e.proxyTokenWorks(proxyToken); err != nil {
		t.Fatalf("the stored proxy token does not register the proxy: %v", err)
	}
	var tokens []string
	tokens = append(tokens, proxyToken, e.value(t, "eu-west-2", "demo/eu-west-2/coder-proxy-token"))
	for _, s := range []struct{ region, ns string }{{"us-east-2", "coder-ws"}, {"us-east-2", "team-a"}, {"us-west-2", "coder-ws"}, {"eu-west-2", "coder-ws"}} {
		key := e.value(t, s.region, "demo/"+s.region+"/provisioner-key-"+s.ns)
		k, err := e.client.ProvisionerKeyByToken(context.Background(), key)
		if err != nil || k.Name != s.region+"-"+s.ns {
			t.Errorf("the stored key of %s/%s is not valid on coderd: %v (%+v)", s.region, s.ns, err, k)
		}
		tokens = append(tokens, key)
	}
	sec := e.secrets(t, "us-west-2")["demo/us-west-2/coder-proxy-token"]
	tags := map[string]string{}
	for _, tg := range sec.Tags {
		tags[*tg.Key] = *tg.Value
	}
	if tags[TagCoderObject] != "workspace-proxy/us-west-2" || tags[TagCoderID] != e.fake.Proxies()[1].ID || tags[awsstate.TagFleet] != "demo" {
		t.Errorf("token secret tags %v", tags)
	}

	// The second apply changes nothing, on coderd and in AWS.
	coderBefore, awsBefore := len(e.fake.MutatingRequests()), e.mutating()
	res2 := e.apply(t, o)
	if n := len(e.fake.MutatingRequests()) - coderBefore; n != 0 {
		t.Errorf("second apply: %d mutating requests to coderd: %v", n, e.fake.MutatingRequests()[coderBefore:])
	}
	if n := e.mutating() - awsBefore; n != 0 {
		t.Errorf("second apply: %d mutating AWS calls", n)
	}
	p2, err := PlanChanges(context.Background(), o)
	if err != nil || !p2.Converged() {
		t.Fatalf("not converged: %v %v", err, changeLines(p2))
	}
	var after strings.Builder
	_ = WritePlan(&after, p2, FormatText)
	if !strings.Contains(after.String(), "us-west-2/us-west-2: registered, coderd reports ok") ||
		!strings.Contains(after.String(), "eu-west-2/eu-west-2: registered, coderd reports unregistered") {
		t.Errorf("plan after apply does not show the proxies' status:\n%s", after.String())
	}
	texts := map[string]string{"progress": e.out.String(), "plan": before.String(), "plan after": after.String()}
	for name, doc := range map[string]func(*bytes.Buffer) error{
		"plan JSON":   func(b *bytes.Buffer) error { return WritePlan(b, p, FormatJSON) },
		"apply JSON":  func(b *bytes.Buffer) error { return WriteResult(b, res, FormatJSON) },
		"apply text":  func(b *bytes.Buffer) error { return WriteResult(b, res, FormatText) },
		"apply2 JSON": func(b *bytes.Buffer) error { return WriteResult(b, res2, FormatJSON) },
		"plan file": func(b *bytes.Buffer) error {
			data, err := p.Save()
			b.Write(data)
			return err
		},
	} {
		var b bytes.Buffer
		if err := doc(&b); err != nil {
			t.Fatal(err)
		}
		texts[name] = b.String()
	}
	checkNoTokens(t, tokens, texts)
	if !strings.Contains(texts["plan file"], `"workspace-proxy us-west-2/us-west-2"`) || !strings.Contains(texts["plan file"], `"provisioner-key us-east-2/coder/us-east-2-team-a"`) {
		t.Errorf("the plan file does not cover the Coder objects:\n%s", texts["plan file"])
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(texts["plan JSON"]), &doc); err != nil || doc["coder"] == nil {
		t.Errorf("plan JSON lacks coder: %v", err)
	}
}

// TestCoderConflictWithForeignProxy: a proxy of a desired name that no
// token secret names is a conflict, untouched (byte-identical), until
// --reissue-tokens adopts it.
func TestCoderConflictWithForeignProxy(t *testing.T) {
	e := newCoderEnv(t, fakecoderd.Options{Premium: true})
	if _, err := e.client.CreateWorkspaceProxy(context.Background(), coderapi.CreateWorkspaceProxyRequest{Name: "us-west-2", DisplayName: "Theirs", Icon: "/theirs.png"}); err != nil {
		t.Fatal(err)
	}
	// theirs is the foreign proxy as coderd holds it, byte for byte.
	theirs := func() (string, string) {
		for _, p := range e.fake.Proxies() {
			if p.Name == "us-west-2" {
				b, _ := json.Marshal(p)
				return string(b), p.ID
			}
		}
		return "", ""
	}
	was, wasID := theirs()
	o := e.opts(e.client)
	_, err := Apply(context.Background(), o)
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || !strings.Contains(ce.Error(), "workspace-proxy us-west-2/us-west-2: a workspace proxy of this name exists in coderd") ||
		!strings.Contains(ce.Error(), "--reissue-tokens") {
		t.Fatalf("err = %v", err)
	}
	if now, _ := theirs(); now != was {
		t.Errorf("the foreign proxy changed:\n%s\n%s", was, now)
	}
	if _, ok := e.secrets(t, "us-west-2")["demo/us-west-2/coder-proxy-token"]; ok {
		t.Error("a token secret was made for the foreign proxy")
	}
	o.ReissueTokens = true
	e.apply(t, o)
	if now, id := theirs(); id != wasID || !strings.Contains(now, `"display_name":"Region us-west-2"`) {
		t.Errorf("adoption did not take over proxy %s: %s", wasID, now)
	}
	if err := e.proxyTokenWorks(e.value(t, "us-west-2", "demo/us-west-2/coder-proxy-token")); err != nil {
		t.Errorf("the adopted proxy's stored token does not work: %v", err)
	}
}

// killingCoder is the Coder client of an apply killed right after coderd
// made an object, before its token is stored.
type killingCoder struct {
	*coderapi.Client
	cancel context.CancelFunc
	proxy  bool // kill after CreateWorkspaceProxy, else after CreateProvisionerKey
}

func (k *killingCoder) CreateWorkspaceProxy(ctx context.Context, req coderapi.CreateWorkspaceProxyRequest) (coderapi.UpdateWorkspaceProxyResponse, error) {
	out, err := k.Client.CreateWorkspaceProxy(ctx, req)
	if err == nil && k.proxy {
		k.cancel()
		return coderapi.UpdateWorkspaceProxyResponse{}, ctx.Err()
	}
	return out, err
}

func (k *killingCoder) CreateProvisionerKey(ctx context.Context, orgID string, req coderapi.CreateProvisionerKeyRequest) (coderapi.CreateProvisionerKeyResponse, error) {
	out, err := k.Client.CreateProvisionerKey(ctx, orgID, req)
	if err == nil && !k.proxy {
		k.cancel()
		return coderapi.CreateProvisionerKeyResponse{}, ctx.Err()
	}
	return out, err
}

// TestCoderApplyKilledBetweenCreateAndStore kills apply after coderd made
// a proxy (or key) and before its token was stored: the next run
// re-issues the token without a duplicate, and the stored token works.
func TestCoderApplyKilledBetweenCreateAndStore(t *testing.T) {
	for _, proxy := range []bool{true, false} {
		name := "key"
		if proxy {
			name = "proxy"
		}
		t.Run(name, func(t *testing.T) {
			e := newCoderEnv(t, fakecoderd.Options{Premium: true})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, err := Apply(ctx, e.opts(&killingCoder{Client: e.client, cancel: cancel, proxy: proxy})); err == nil {
				t.Fatal("apply was not interrupted")
			}
			o := e.opts(e.client)
			p, err := PlanChanges(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(changeLines(p), "\n"), "update") || !strings.Contains(p.Changes[0].Reason+p.Changes[1].Reason+p.Changes[2].Reason, "interrupted before storing its token") {
				t.Errorf("the plan does not recover the interrupted object: %v", changeLines(p))
			}
			e.apply(t, o)
			if p, err := PlanChanges(context.Background(), o); err != nil || !p.Converged() {
				t.Fatalf("not converged: %v %v %v", err, changeLines(p), p.Conflicts)
			}
			if got := len(e.fake.Proxies()); got != 2 {
				t.Errorf("%d proxies, want 2", got)
			}
			if got := len(e.fake.ProvisionerKeys("coder")); got != 4 {
				t.Errorf("%d keys, want 4", got)
			}
			if err := e.proxyTokenWorks(e.value(t, "us-west-2", "demo/us-west-2/coder-proxy-token")); err != nil {
				t.Errorf("stored proxy token: %v", err)
			}
			for _, ns := range []string{"coder-ws", "team-a"} {
				if _, err := e.client.ProvisionerKeyByToken(context.Background(), e.value(t, "us-east-2", "demo/us-east-2/provisioner-key-"+ns)); err != nil {
					t.Errorf("stored key %s: %v", ns, err)
				}
			}
		})
	}
}

// TestCoderLostTokenNeedsReissue: a token secret that lost its value
// blocks (no call to coderd changes anything) until --reissue-tokens,
// which re-issues the token: the old one stops working, the new one works.
func TestCoderLostTokenNeedsReissue(t *testing.T) {
	e := newCoderEnv(t, fakecoderd.Options{Premium: true})
	o := e.opts(e.client)
	e.apply(t, o)
	const name = "demo/us-west-2/coder-proxy-token"
	old := e.value(t, "us-west-2", name)
	lost := e.secrets(t, "us-west-2")[name]
	sm := e.sm("us-west-2")
	if _, err := sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), Description: lost.Description, Tags: lost.Tags}); err != nil {
		t.Fatal(err)
	}
	p, err := PlanChanges(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conflicts) != 1 || !strings.Contains(p.Conflicts[0].String(), "blocked: its token secret "+name+" (us-west-2) has no current value") || !strings.Contains(p.Conflicts[0].Reason, "--reissue-tokens") {
		t.Fatalf("conflicts %v, changes %v", p.Conflicts, changeLines(p))
	}
	before := len(e.fake.MutatingRequests())
	var ce *ConflictError
	if _, err := Apply(context.Background(), o); !errors.As(err, &ce) {
		t.Fatalf("apply without --reissue-tokens: %v", err)
	}
	if n := len(e.fake.MutatingRequests()) - before; n != 0 {
		t.Errorf("blocked apply made %d mutating requests to coderd", n)
	}
	o.ReissueTokens = true
	e.apply(t, o)
	tok := e.value(t, "us-west-2", name)
	if err := e.proxyTokenWorks(tok); err != nil {
		t.Errorf("re-issued token: %v", err)
	}
	if err := e.proxyTokenWorks(old); !coderapi.IsUnauthorized(err) {
		t.Errorf("the old token still registers: %v", err)
	}
	if got := len(e.fake.Proxies()); got != 2 {
		t.Errorf("%d proxies, want 2", got)
	}
	checkNoTokens(t, []string{tok, old}, map[string]string{"progress": e.out.String()})
}

// TestCoderPruneOnlyWithPrune: a proxy and a key that left the desired
// state stay until --prune, which deletes them and schedules their token
// secrets for deletion.
func TestCoderPruneOnlyWithPrune(t *testing.T) {
	e := newCoderEnv(t, fakecoderd.Options{Premium: true})
	o := e.opts(e.client)
	e.apply(t, o)
	delete(e.repo.fs, "regions/us-west-2/aws/"+awsstate.WorkspaceProxiesFile)
	coderRegion(t, e.repo.fs, "us-east-2", false, "coder", "coder-ws")
	before := len(e.fake.MutatingRequests())
	res := e.apply(t, o)
	if n := len(e.fake.MutatingRequests()) - before; n != 0 || res.Final.Kept != 2 {
		t.Fatalf("without --prune: %d mutating requests, kept %d, notes %q", n, res.Final.Kept, res.Final.Notes)
	}
	o.Prune = true
	e.apply(t, o)
	if got := e.fake.Proxies(); len(got) != 1 || got[0].Name != "eu-west-2" {
		t.Errorf("proxies after prune: %+v", got)
	}
	for _, k := range e.fake.ProvisionerKeys("coder") {
		if k.Name == "us-east-2-team-a" {
			t.Error("the pruned key is still in coderd")
		}
	}
	for region, name := range map[string]string{"us-west-2": "demo/us-west-2/coder-proxy-token", "us-east-2": "demo/us-east-2/provisioner-key-team-a"} {
		if s, ok := e.secrets(t, region)[name]; !ok || s.DeletedDate == nil {
			t.Errorf("token secret %s is not scheduled for deletion", name)
		}
	}
	if p, err := PlanChanges(context.Background(), o); err != nil || !p.Converged() {
		t.Errorf("not converged after prune: %v %v", err, changeLines(p))
	}
}

// TestCoderErrors: a deployment without Premium refuses with Coder's 403
// and the hint; a key of an organization coderd lacks names the file, the
// fleet.yaml key it comes from, and how to create it.
func TestCoderErrors(t *testing.T) {
	e := newCoderEnv(t, fakecoderd.Options{Premium: false})
	_, err := PlanChanges(context.Background(), e.opts(e.client))
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "Premium") || !strings.Contains(err.Error(), "coder licenses add") {
		t.Errorf("without Premium: %v", err)
	}
	e = newCoderEnv(t, fakecoderd.Options{Premium: true})
	coderRegion(t, e.repo.fs, "us-west-2", true, "platform", "coder-ws")
	_, err = PlanChanges(context.Background(), e.opts(e.client))
	var in *InputError
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "regions/us-west-2/aws/provisionerkeys.yaml") ||
		!strings.Contains(err.Error(), `organization "platform" does not exist`) || !strings.Contains(err.Error(), "workspaceNamespaces[].organization") ||
		!strings.Contains(err.Error(), "coder organizations create platform") {
		t.Errorf("missing organization: %v", err)
	}
}

// TestCoderScopeAndSavedPlan: --region keeps other regions' Coder objects
// out of a run, even with --prune; a saved plan is refused when coderd
// changed an object it touches since it was made.
func TestCoderScopeAndSavedPlan(t *testing.T) {
	e := newCoderEnv(t, fakecoderd.Options{Premium: true})
	o := e.opts(e.client)
	o.Regions = []string{"eu-west-2"}
	e.apply(t, o)
	if got := e.fake.Proxies(); len(got) != 1 || got[0].Name != "eu-west-2" {
		t.Fatalf("--region eu-west-2 registered %+v", got)
	}
	delete(e.repo.fs, "regions/eu-west-2/aws/"+awsstate.WorkspaceProxiesFile)
	o.Regions, o.Prune = []string{"us-west-2"}, true
	p, err := PlanChanges(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Join(changeLines(p), "\n"); strings.Contains(lines, "eu-west-2") || p.Kept != 0 {
		t.Fatalf("a run limited to us-west-2 plans eu-west-2's objects: %s (kept %d)", lines, p.Kept)
	}
	data, err := p.Save()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := LoadPlanFile("coder.plan", data)
	if err != nil {
		t.Fatal(err)
	}
	// Someone registers a proxy of the planned name meanwhile.
	if _, err := e.client.CreateWorkspaceProxy(context.Background(), coderapi.CreateWorkspaceProxyRequest{Name: "us-west-2", DisplayName: "Theirs", Icon: "/theirs.png"}); err != nil {
		t.Fatal(err)
	}
	so := e.opts(e.client)
	so.Saved = saved
	before := len(e.fake.MutatingRequests())
	_, err = Apply(context.Background(), so)
	var stale *StalePlanError
	if !errors.As(err, &stale) || !strings.Contains(strings.Join(stale.Changed, "\n"), "workspace-proxy us-west-2/us-west-2 changed since the plan was made") {
		t.Fatalf("saved plan after coderd changed: %v", err)
	}
	if n := len(e.fake.MutatingRequests()) - before; n != 0 {
		t.Errorf("a stale saved plan made %d mutating requests", n)
	}
}

// flakyCoder answers the first list and create with coderd's 429 and 503,
// and makes the first provisioner key but answers 502: sync retries them
// all (the key's 409 on the retry means the first attempt made it).
type flakyCoder struct {
	*coderapi.Client
	listed, created, keyed bool
}

func (f *flakyCoder) WorkspaceProxies(ctx context.Context) ([]coderapi.WorkspaceProxy, error) {
	if !f.listed {
		f.listed = true
		return nil, &coderapi.Error{Method: "GET", Path: "/api/v2/workspaceproxies", StatusCode: 429, Message: "rate limited"}
	}
	return f.Client.WorkspaceProxies(ctx)
}

func (f *flakyCoder) CreateWorkspaceProxy(ctx context.Context, req coderapi.CreateWorkspaceProxyRequest) (coderapi.UpdateWorkspaceProxyResponse, error) {
	if !f.created {
		f.created = true
		return coderapi.UpdateWorkspaceProxyResponse{}, &coderapi.Error{Method: "POST", Path: "/api/v2/workspaceproxies", StatusCode: 503, Message: "restarting"}
	}
	return f.Client.CreateWorkspaceProxy(ctx, req)
}

func (f *flakyCoder) CreateProvisionerKey(ctx context.Context, orgID string, req coderapi.CreateProvisionerKeyRequest) (coderapi.CreateProvisionerKeyResponse, error) {
	out, err := f.Client.CreateProvisionerKey(ctx, orgID, req)
	if !f.keyed && err == nil {
		f.keyed = true
		return coderapi.CreateProvisionerKeyResponse{}, &coderapi.Error{Method: "POST", Path: "/api/v2/organizations/x/provisionerkeys", StatusCode: 502, Message: "bad gateway"}
	}
	return out, err
}

func TestCoderRetries(t *testing.T) {
	e := newCoderEnv(t, fakecoderd.Options{Premium: true})
	o := e.opts(&flakyCoder{Client: e.client})
	res := e.apply(t, o)
	if res.Retries < 3 {
		t.Errorf("%d retries, want at least 3\n%s", res.Retries, e.out.String())
	}
	if got := len(e.fake.ProvisionerKeys("coder")); got != 4 {
		t.Errorf("%d keys, want 4 (no duplicate after the ambiguous create)", got)
	}
	for _, ns := range []string{"coder-ws", "team-a"} {
		if _, err := e.client.ProvisionerKeyByToken(context.Background(), e.value(t, "us-east-2", "demo/us-east-2/provisioner-key-"+ns)); err != nil {
			t.Errorf("stored key %s: %v", ns, err)
		}
	}
	if p, err := PlanChanges(context.Background(), e.opts(e.client)); err != nil || !p.Converged() {
		t.Errorf("not converged: %v %v", err, changeLines(p))
	}
}
