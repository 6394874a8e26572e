package main

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/internal/awscalls"
	"github.com/coderfleet/coderfleet/internal/coderapi"
	"github.com/coderfleet/coderfleet/internal/fakecoderd"
	fleetsync "github.com/coderfleet/coderfleet/sync"
)

// countingMoto puts a reverse proxy in front of moto at motoURL that
// counts every AWS call passing through it by operation, and returns the
// proxy's URL (for AWS_ENDPOINT_URL) and the counter.
func countingMoto(t *testing.T, motoURL string) (string, *awscalls.Counter) {
	t.Helper()
	target, err := url.Parse(motoURL)
	if err != nil {
		t.Fatal(err)
	}
	calls := awscalls.New(http.DefaultTransport)
	p := httputil.NewSingleHostReverseProxy(target)
	p.Transport = calls
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL, calls
}

// coderSide is the primary's coderd of the onboarding test: a fake coderd
// with the example fleet's organizations, which the CLI reaches through
// CODER_URL and CODER_SESSION_TOKEN (an Owner's token), as a user's shell
// would set them.
type coderSide struct {
	fake   *fakecoderd.Server
	client *coderapi.Client // the test's own client (never the CLI's)
	token  string           // the session token
}

func startCoderSide(t *testing.T) *coderSide {
	t.Helper()
	c := &coderSide{token: "onboarding-owner-session-token-5f0c2a9e"}
	c.fake = fakecoderd.New(fakecoderd.Options{OwnerToken: c.token, Premium: true, Organizations: []string{"coder", "experiment", "demo"}})
	u, stop := c.fake.Start()
	t.Cleanup(stop)
	client, err := coderapi.New(u, c.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.client = client
	coderEnv(t, map[string]string{envCoderURL: u, envCoderToken: c.token})
	return c
}

// transcript collects the stdout and stderr of every cli run of the test
// that calls recordCLI, so the test can prove no token reached them.
var transcript *strings.Builder

// recordCLI makes cli append every run's output to the returned builder
// for the rest of the test.
func recordCLI(t *testing.T) *strings.Builder {
	t.Helper()
	transcript = &strings.Builder{}
	t.Cleanup(func() { transcript = nil })
	return transcript
}

// tokenSecret is a Coder object's token secret as the rendered desired
// state lists it.
type tokenSecret struct {
	object string // workspace-proxy/<name> or provisioner-key/<org>/<name>
	region string // the coderfleet region of the file listing it
	secret awsstate.Secret
}

// renderedTokenSecrets reads regions/*/aws/workspaceproxies.yaml and
// provisionerkeys.yaml of repo.
func renderedTokenSecrets(t *testing.T, repo string) []tokenSecret {
	t.Helper()
	var out []tokenSecret
	for _, name := range []string{awsstate.WorkspaceProxiesFile, awsstate.ProvisionerKeysFile} {
		files, err := filepath.Glob(filepath.Join(repo, "regions", "*", "aws", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range files {
			f := readAWSFile(t, p)
			for _, w := range f.WorkspaceProxies {
				out = append(out, tokenSecret{object: "workspace-proxy/" + w.Name, region: f.Region, secret: w.TokenSecret})
			}
			for _, k := range f.ProvisionerKeys {
				out = append(out, tokenSecret{object: "provisioner-key/" + k.Organization + "/" + k.Name, region: f.Region, secret: k.TokenSecret})
			}
		}
	}
	return out
}

// checkCoderRegistered checks what sync apply registered against the
// rendered desired state: coderd holds exactly its proxies (besides the
// primary) and keys; each token is in its secret in the AWS region the
// file names, tagged as coderfleet's with the object and its coderd ID;
// each proxy token registers its proxy and each key is valid on the
// daemon-key endpoint. It returns the tokens (never printed).
func checkCoderRegistered(t *testing.T, ctx context.Context, cfg aws.Config, repo string, c *coderSide) []string {
	t.Helper()
	ids := map[string]string{} // object -> coderd ID
	proxies := 0
	for _, p := range c.fake.Proxies() {
		if p.Name != "primary" {
			ids["workspace-proxy/"+p.Name] = p.ID
			proxies++
		}
	}
	keys := 0
	for _, org := range []string{"coder", "experiment", "demo"} {
		for _, k := range c.fake.ProvisionerKeys(org) {
			ids["provisioner-key/"+org+"/"+k.Name] = k.ID
			keys++
		}
	}
	want := renderedTokenSecrets(t, repo)
	if proxies+keys != len(want) {
		t.Errorf("coderd holds %d proxies and %d keys, the desired state %d objects: %v", proxies, keys, len(want), ids)
	}
	var tokens []string
	for _, w := range want {
		s := w.secret
		sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.Region = s.AWSRegion })
		v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.Name)})
		if err != nil {
			t.Errorf("%s: token secret %s in %s: %v", w.object, s.Name, s.AWSRegion, err)
			continue
		}
		token := aws.ToString(v.SecretString)
		if token == "" {
			t.Errorf("%s: token secret %s has an empty value", w.object, s.Name)
			continue
		}
		tokens = append(tokens, token)
		d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.Name)})
		if err != nil {
			t.Fatal(err)
		}
		tags := map[string]string{}
		for _, tg := range d.Tags {
			tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		wantTags := map[string]string{fleetsync.TagCoderObject: w.object, fleetsync.TagCoderID: ids[w.object]}
		for k, v := range s.Tags {
			wantTags[k] = v
		}
		if ids[w.object] == "" || mustJSON(t, tags) != mustJSON(t, wantTags) {
			t.Errorf("%s: token secret %s has tags %v, want %v", w.object, s.Name, tags, wantTags)
		}
		if name, ok := strings.CutPrefix(w.object, "workspace-proxy/"); ok {
			err = c.client.RegisterWorkspaceProxy(ctx, token, coderapi.RegisterWorkspaceProxyRequest{
				AccessURL: "https://" + name + ".coder.example.com", ReplicaID: "0c6d5d1e-3f4a-4b7e-9d2a-6f1e8b7c5a40", Version: "v2.26.3"})
			if err != nil {
				t.Errorf("%s: the token stored in %s does not register it: %v", w.object, s.Name, err)
			}
			continue
		}
		k, err := c.client.ProvisionerKeyByToken(ctx, token)
		if err != nil || k.ID != ids[w.object] {
			t.Errorf("%s: the key stored in %s is not valid on coderd: %v (%s)", w.object, s.Name, err, k.Name)
		}
	}
	return tokens
}

// checkTokenExternalSecrets checks that the rendered ExternalSecrets
// coder-proxy and psk read exactly the token secrets: each remoteRef key is
// a token secret of its own region, read through a SecretStore of the
// secret's AWS region, and every token secret is read by one of them.
func checkTokenExternalSecrets(t *testing.T, repo string) {
	t.Helper()
	secrets := map[string]tokenSecret{}
	for _, w := range renderedTokenSecrets(t, repo) {
		secrets[w.secret.Name] = w
	}
	stores := map[string]string{} // region/namespace/name -> AWS region
	type ref struct{ file, region, namespace, name, store, key, secretKey string }
	var refs []ref
	err := filepath.WalkDir(filepath.Join(repo, "regions"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
			Spec struct {
				Provider struct {
					AWS struct {
						Region string `json:"region"`
					} `json:"aws"`
				} `json:"provider"`
				SecretStoreRef struct {
					Kind string `json:"kind"`
					Name string `json:"name"`
				} `json:"secretStoreRef"`
				Data []struct {
					SecretKey string `json:"secretKey"`
					RemoteRef struct {
						Key string `json:"key"`
					} `json:"remoteRef"`
				} `json:"data"`
			} `json:"spec"`
		}
		readYAML(t, p, &obj)
		rel, _ := filepath.Rel(repo, p)
		rel = filepath.ToSlash(rel)
		region := strings.Split(rel, "/")[1]
		switch {
		case obj.Kind == "SecretStore":
			stores[region+"/"+obj.Metadata.Namespace+"/"+obj.Metadata.Name] = obj.Spec.Provider.AWS.Region
		case obj.Kind == "ExternalSecret" && (obj.Metadata.Name == "coder-proxy" || obj.Metadata.Name == "psk"):
			if len(obj.Spec.Data) != 1 || obj.Spec.SecretStoreRef.Kind != "SecretStore" {
				t.Errorf("%s: ExternalSecret %s reads %d keys through a %s, want one through a SecretStore", rel, obj.Metadata.Name, len(obj.Spec.Data), obj.Spec.SecretStoreRef.Kind)
				return nil
			}
			refs = append(refs, ref{rel, region, obj.Metadata.Namespace, obj.Metadata.Name, obj.Spec.SecretStoreRef.Name,
				obj.Spec.Data[0].RemoteRef.Key, obj.Spec.Data[0].SecretKey})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	for _, r := range refs {
		w, ok := secrets[r.key]
		wantKey, wantObject := "token.key", "provisioner-key/"
		if r.name == "coder-proxy" {
			wantKey, wantObject = "proxy.key", "workspace-proxy/"
		}
		switch {
		case !ok:
			t.Errorf("%s: ExternalSecret %s/%s reads %q, no token secret of workspaceproxies.yaml or provisionerkeys.yaml", r.file, r.namespace, r.name, r.key)
		case w.region != r.region || !strings.HasPrefix(w.object, wantObject) || r.secretKey != wantKey:
			t.Errorf("%s: ExternalSecret %s/%s maps %q (%s of region %s) to %s", r.file, r.namespace, r.name, r.key, w.object, w.region, r.secretKey)
		case stores[r.region+"/"+r.namespace+"/"+r.store] != w.secret.AWSRegion:
			t.Errorf("%s: ExternalSecret %s/%s reads %q through SecretStore %s of AWS region %q, the secret lives in %s",
				r.file, r.namespace, r.name, r.key, r.store, stores[r.region+"/"+r.namespace+"/"+r.store], w.secret.AWSRegion)
		}
		if read[r.key] {
			t.Errorf("%s: token secret %q is read by two ExternalSecrets", r.file, r.key)
		}
		read[r.key] = true
	}
	for name, w := range secrets {
		if !read[name] {
			t.Errorf("no ExternalSecret coder-proxy or psk reads the token secret %s of %s", name, w.object)
		}
	}
}

// checkNoTokens fails when a token (or an empty one) appears in one of
// texts (name -> text) or in any file under repo. Failures name where,
// never the token.
func checkNoTokens(t *testing.T, tokens []string, repo string, texts map[string]string) {
	t.Helper()
	for _, tok := range tokens {
		if tok == "" {
			t.Error("an empty token was stored")
		}
	}
	found := func(where, text string) {
		for _, tok := range tokens {
			if tok != "" && strings.Contains(text, tok) {
				t.Errorf("a token appears in %s", where)
			}
		}
	}
	for name, text := range texts {
		found(name, text)
	}
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		found(p, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkTokenSecretsDeleted checks that each of the token secrets is
// scheduled for deletion (deleted) or exists and is not (!deleted).
func checkTokenSecretsDeleted(t *testing.T, ctx context.Context, cfg aws.Config, secrets []tokenSecret, deleted bool) {
	t.Helper()
	for _, w := range secrets {
		sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.Region = w.secret.AWSRegion })
		d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(w.secret.Name)})
		if err != nil {
			t.Errorf("token secret %s of %s in %s: %v", w.secret.Name, w.object, w.secret.AWSRegion, err)
			continue
		}
		if (d.DeletedDate != nil) != deleted {
			t.Errorf("token secret %s of %s: scheduled for deletion %t, want %t", w.secret.Name, w.object, d.DeletedDate != nil, deleted)
		}
	}
}
