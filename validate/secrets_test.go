package validate

import (
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/config"
)

// Fake credentials built at run time so this file holds no literal that
// scanners (or this package) would flag.
var (
	fakeAccessKey = "AKIA" + "IOSFODNN7EXAMPLE"
	fakeSTSKey    = "ASIA" + "ZZZZ1234567890AB"
	fakeSecretKey = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
	fakeJWT       = "eyJhbGciOiJIUzI1NiJ9" + "." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0" + "." + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	fakePEM       = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n"
	// Token formats of gitleaks' default rules, random-looking bodies.
	fakeGitHub    = "ghp_" + "Xk9mT2vQ7rL4pW8nZ3bY6cJ1hF5dS0aGeU2i"
	fakeGitLab    = "glpat-" + "Qm7xK2pL9vT4nW8rZ3bY"
	fakeSlack     = "xoxb-" + "263594206564-2343594206574-FGqddMF8t08v8N7Oq4i57vs1"
	fakeStripe    = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
	fakeGoogle    = "AIza" + "SyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"
	fakeAnthropic = "sk-ant-api03-" + strings.Repeat("Xk9mT2vQ7rL4pW8nZ3bY6cJ1hF5dS0aGeU2i", 3)[:93] + "AA"
	fakeOpenAI    = "sk-proj-" + strings.Repeat("Xk9mT2vQ7rL4pW8nZ3bY", 3)[:58] + "T3Blbk" + "FJ" + strings.Repeat("hF5dS0aGeU2iQm7xK2pL", 3)[:58]
)

func TestSecretGuard(t *testing.T) {
	const env = "spec.template.spec.containers[app].env"
	configMap := func(k, v string) map[string]any {
		m := obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: x}\n")
		m["data"] = map[string]any{k: v}
		return m
	}
	deployEnv := func(name, value string) map[string]any {
		m := obj(t, goodDeployment)
		ct := m["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
		ct["env"] = append(ct["env"].([]any), map[string]any{"name": name, "value": value})
		return m
	}
	cases := []struct {
		name  string
		obj   map[string]any
		allow []config.Allowance
		want  []want
	}{
		{name: "access key id in env", obj: deployEnv("AWS_ACCESS_KEY_ID", fakeAccessKey),
			want: []want{{CheckCredential, env + "[AWS_ACCESS_KEY_ID].value", "an AWS access key id (AKIA…)"}}},
		{name: "temporary access key id inside text", obj: configMap("creds", "id="+fakeSTSKey+"\n"),
			want: []want{{CheckCredential, "data.creds", "an AWS access key id"}}},
		{name: "secret key in env named like a secret", obj: deployEnv("AWS_SECRET_ACCESS_KEY", fakeSecretKey),
			want: []want{{CheckCredential, env + "[AWS_SECRET_ACCESS_KEY].value", "an AWS secret access key (wJal…)"}}},
		{name: "secret key in map entry named KEY", obj: configMap("aws-key", fakeSecretKey),
			want: []want{{CheckCredential, "data.aws-key", "an AWS secret access key"}}},
		{name: "secret key inside a credentials file", obj: configMap("credentials", "[default]\naws_secret_access_key = "+fakeSecretKey+"\n"),
			want: []want{{CheckCredential, "data.credentials", "an AWS secret access key"}}},
		{name: "40 chars in an env var not named like a secret", obj: deployEnv("BUILD_ID", fakeSecretKey)},
		{name: "hex digest in an env var named like a secret is a literal", obj: deployEnv("CACHE_KEY", "0123456789abcdef0123456789abcdef01234567"),
			want: []want{{CheckCredential, env + "[CACHE_KEY].value", "the env var name ends in KEY"}}},
		{name: "hex digest in an env var not named like a secret", obj: deployEnv("BUILD_DIGEST", "0123456789abcdef0123456789abcdef01234567")},
		{name: "GitHub token (gitleaks rule)", obj: deployEnv("GH", fakeGitHub),
			want: []want{{CheckCredential, env + "[GH].value", `gitleaks' rule "github-pat" describes (ghp_…)`}}},
		{name: "GitLab token in an annotation", obj: withAnnotation(obj(t, goodServiceAccount), "example.com/ci", fakeGitLab),
			want: []want{{CheckCredential, `metadata.annotations["example.com/ci"]`, `"gitlab-pat"`}}},
		{name: "Slack bot token in a label", obj: obj(t, goodServiceAccount, "metadata.labels={example.com/hook: "+fakeSlack+"}"),
			want: []want{{CheckCredential, `metadata.labels["example.com/hook"]`, `"slack-bot-token"`}}},
		{name: "Stripe key in args", obj: obj(t, goodDeployment, "spec.template.spec.containers.0.args=[--stripe, "+fakeStripe+"]"),
			want: []want{{CheckCredential, "spec.template.spec.containers[app].args[1]", `"stripe-access-token"`}}},
		{name: "Google API key in a ConfigMap", obj: configMap("maps", fakeGoogle),
			want: []want{{CheckCredential, "data.maps", `"gcp-api-key"`}}},
		{name: "Anthropic key in an env var of any name", obj: deployEnv("LLM", fakeAnthropic),
			want: []want{{CheckCredential, env + "[LLM].value", `"anthropic-api-key"`}}},
		{name: "OpenAI project key", obj: deployEnv("OPENAI_API_KEY", fakeOpenAI),
			want: []want{{CheckCredential, env + "[OPENAI_API_KEY].value", `"openai-api-key"`}}},
		{name: "literal in an env var named TOKEN", obj: deployEnv("GITHUB_TOKEN", "not-a-known-format"),
			want: []want{{CheckCredential, env + "[GITHUB_TOKEN].value", "ends in TOKEN"}}},
		{name: "literal in an env var named PASSWORD", obj: deployEnv("DB_PASSWORD", "hunter2-Very-Secret"),
			want: []want{{CheckCredential, env + "[DB_PASSWORD].value", "ends in PASSWORD) (hunt…)"}}},
		{name: "literal in an env var named SECRET", obj: deployEnv("client_secret", "abc"),
			want: []want{{CheckCredential, env + "[client_secret].value", "ends in SECRET"}}},
		{name: "env var named like a secret holding a reference or a path", obj: deployEnv("SESSION_TOKEN", "$(TOKEN_FROM_SECRET)")},
		{name: "env var named like a secret holding a mounted file", obj: deployEnv("TLS_KEY", "/etc/tls/tls.key")},
		{name: "env var named like a secret, empty", obj: deployEnv("API_KEY", "")},
		{name: "api_key in config text", obj: configMap("config.yaml", "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: \"sk-abc123\"\n"),
			want: []want{{CheckCredential, `data["config.yaml"]`, `key "api_key" in the text`}}},
		{name: "JSON config text with a password", obj: configMap("settings.json", "{\n  \"user\": \"app\",\n  \"dbPassword\": \"hunter2\",\n}\n"),
			want: []want{{CheckCredential, `data["settings.json"]`, `key "dbPassword" in the text`}}},
		{name: "config text with references", obj: configMap("config.yaml", "general_settings:\n  master_key: \"os.environ/LITELLM_MASTER_KEY\"\n  api_key: ${API_KEY}\n  token: # none\n  max_tokens: 10\n  password_file: /run/secrets/pw\n")},
		{name: "map key named like a secret", obj: obj(t, "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: h, namespace: flux-system}\nspec:\n  interval: 1h\n  chart: {spec: {chart: c, sourceRef: {kind: HelmRepository, name: r}}}\n  values: {auth: {apiKey: zzz-literal}}\n"),
			want: []want{{CheckCredential, "spec.values.auth.apiKey", `key "apiKey"`}}},
		{name: "ExternalSecret keys are not secrets", obj: configMap("secretKey", "token")},
		{name: "PEM private key", obj: configMap("tls.key", fakePEM),
			want: []want{{CheckCredential, `data["tls.key"]`, "a PEM private key"}}},
		{name: "public certificate is fine", obj: configMap("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")},
		{name: "JWT in an annotation", obj: withAnnotation(obj(t, goodServiceAccount), "example.com/token", fakeJWT),
			want: []want{{CheckCredential, `metadata.annotations["example.com/token"]`, "a JSON Web Token (eyJh…)"}}},
		{name: "URL with password", obj: deployEnv("DATABASE_URL", "postgres://coder:s3cr3t@db.internal:5432/coder"),
			want: []want{{CheckCredential, env + "[DATABASE_URL].value", "a URL with a password (post…)"}}},
		{name: "URL with a password reference", obj: deployEnv("DATABASE_URL", "postgres://coder:$(PGPASSWORD)@db.internal:5432/coder")},
		{name: "URL with user only", obj: deployEnv("GIT_URL", "https://git@github.com/coder/coder")},
		{name: "URL with port is not a password", obj: deployEnv("CODER_DERP_SERVER_RELAY_URL", "http://$(KUBE_POD_IP):8080")},
		{name: "password assignment in args", obj: obj(t, goodDeployment, "spec.template.spec.containers.0.args=[--db, host=db password=hunter2 sslmode=require]"),
			want: []want{{CheckCredential, "spec.template.spec.containers[app].args[1]", "a password or token assignment (pass…)"}}},
		{name: "token in a query string", obj: configMap("url", "https://hooks.example.com/x?token=abc123&x=1"),
			want: []want{{CheckCredential, "data.url", "a password or token assignment"}}},
		{name: "client_secret assignment", obj: configMap("env", "CLIENT_SECRET=zzz"),
			want: []want{{CheckCredential, "data.env", "a password or token assignment"}}},
		{name: "assignment of a reference", obj: configMap("env", "password=${DB_PASSWORD} token=$(TOKEN) api_key={{ .Values.key }}")},
		{name: "litellm env reference", obj: configMap("config.yaml", "model_list:\n- litellm_params:\n    api_key=os.environ/ANTHROPIC_API_KEY\n    max_tokens=4096\n")},
		{name: "words that are not credentials", obj: deployEnv("CODER_PG_AUTH", "password")},
		{name: "allowance accepts one field", obj: deployEnv("EXAMPLE_KEY_ID", fakeAccessKey),
			allow: []config.Allowance{{Object: "test/Deployment/apps/app", Field: env + "[EXAMPLE_KEY_ID].value", Reason: "documentation example"}}},
		{name: "allowance for another field does not apply", obj: deployEnv("EXAMPLE_KEY_ID", fakeAccessKey),
			allow: []config.Allowance{{Object: "test/Deployment/apps/app", Field: env + "[OTHER].value", Reason: "x"}},
			want:  []want{{CheckCredential, env + "[EXAMPLE_KEY_ID].value", "AWS access key id"}}},
		{name: "allowance for another object does not apply", obj: deployEnv("EXAMPLE_KEY_ID", fakeAccessKey),
			allow: []config.Allowance{{Object: "other/Deployment/apps/app", Field: env + "[EXAMPLE_KEY_ID].value", Reason: "x"}},
			want:  []want{{CheckCredential, env + "[EXAMPLE_KEY_ID].value", "AWS access key id"}}},
		{name: "allowance for a cluster-scoped object", obj: withAnnotation(obj(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: ws}\n"), "example.com/jwt", fakeJWT),
			allow: []config.Allowance{{Object: "test/Namespace/ws", Field: `metadata.annotations["example.com/jwt"]`, Reason: "public test token"}}},
		{name: "allowance does not permit Secret data", obj: obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: x}\ndata: {k: dg==}\n"),
			allow: []config.Allowance{{Object: "test/Secret/x/s", Field: "data", Reason: "x"}},
			want:  []want{{CheckSecretData, "data", "Secret carries data"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Objects("r", []Object{{Component: "test", Obj: tc.obj}}, Options{Allow: tc.allow})
			assertProblems(t, got, tc.want)
			for _, p := range got {
				for _, secret := range []string{fakeAccessKey, fakeSTSKey, fakeSecretKey, fakeJWT, "s3cr3t", "hunter2"} {
					if strings.Contains(p.Error(), secret) {
						t.Errorf("finding repeats the credential: %v", p)
					}
				}
				if p.Check == CheckCredential && !strings.Contains(p.Hint, "secretGuard.allow") {
					t.Errorf("hint does not say how to allow a false positive: %q", p.Hint)
				}
			}
		})
	}
}

func TestAWSFile(t *testing.T) {
	const records = `apiVersion: coderfleet.io/aws/v1alpha1
kind: RecordList
region: us-east-2
records:
  - name: verify.example.com
    type: TXT
    values:
      - "v=spf1 -all"
      - "KEYID`
	data := []byte(records + "=" + fakeAccessKey + "\"\n  - name: db.example.com\n    type: CNAME\n    values: [\"postgres://u:pw@db\"]\n")
	got := AWSFile("us-east-2", "regions/us-east-2/aws/records.yaml", data, Options{})
	assertProblems(t, got, []want{
		{CheckCredential, "records[verify.example.com].values[1]", "an AWS access key id"},
		{CheckCredential, "records[db.example.com].values[0]", "a URL with a password"},
	})
	if got[0].Line != 9 || got[0].File != "regions/us-east-2/aws/records.yaml" || got[1].Line != 12 {
		t.Errorf("file/line = %s:%d and %d, want regions/us-east-2/aws/records.yaml:9 and 12", got[0].File, got[0].Line, got[1].Line)
	}
	if !strings.Contains(got[0].Hint, `"aws/records.yaml"`) {
		t.Errorf("hint does not name the allowance object: %q", got[0].Hint)
	}

	allowed := AWSFile("us-east-2", "regions/us-east-2/aws/records.yaml", data, Options{Allow: []config.Allowance{
		{Object: "aws/records.yaml", Field: "records[verify.example.com].values[1]", Reason: "published example key"},
	}})
	assertProblems(t, allowed, []want{{CheckCredential, "records[db.example.com].values[0]", "a URL with a password"}})

	bad := AWSFile("us-east-2", "f.yaml", []byte("a: [\n"), Options{})
	assertProblems(t, bad, []want{{CheckSchema, "", "parsing YAML"}})

	if clean := AWSFile("r", "f.yaml", []byte("a: 1\n---\nb: [x, y]\n"), Options{}); clean != nil {
		t.Errorf("clean file flagged: %v", clean)
	}
}

// TestAWSTreeAsAWSFile checks the guard over awsstate.ParseRoot's root
// (what sync runs, parsing each file once) against the guard over the
// file's bytes (what render runs): the same problems at the same lines.
func TestAWSTreeAsAWSFile(t *testing.T) {
	const file = "regions/us-east-2/aws/secrets.yaml"
	data := []byte(`apiVersion: coderfleet.io/aws/v1alpha1
kind: SecretList
fleet: f
region: us-east-2
secrets:
  - name: f/us-east-2/coder/postgres
    awsRegion: us-east-2
    description: "KEYID=` + fakeAccessKey + `"
  - name: f/us-east-2/coder/oidc
    awsRegion: us-east-2
    description: "postgres://u:pw@db"
`)
	_, root, err := awsstate.ParseRoot(file, data)
	if err != nil || root == nil {
		t.Fatalf("ParseRoot: %v", err)
	}
	tree := AWSTree("us-east-2", file, root, Options{})
	assertProblems(t, tree, []want{
		{CheckCredential, "secrets[f/us-east-2/coder/postgres].description", "an AWS access key id"},
		{CheckCredential, "secrets[f/us-east-2/coder/oidc].description", "a URL with a password"},
	})
	bytesGuard := AWSFile("us-east-2", file, data, Options{})
	if len(bytesGuard) != len(tree) {
		t.Fatalf("AWSFile found %d problems, AWSTree %d", len(bytesGuard), len(tree))
	}
	for i := range tree {
		if *tree[i] != *bytesGuard[i] {
			t.Errorf("problem %d: AWSTree %+v, AWSFile %+v", i, *tree[i], *bytesGuard[i])
		}
	}
	if tree[0].Line != 8 || tree[1].Line != 11 {
		t.Errorf("lines = %d and %d, want 8 and 11", tree[0].Line, tree[1].Line)
	}
}

func TestKindHints(t *testing.T) {
	for _, tc := range []struct {
		obj  map[string]any
		hint string
	}{
		{obj(t, goodCronJob, "kind=CronJb"), "did you mean CronJob (apiVersion batch/v1)"},
		{obj(t, goodOCIRepository, "apiVersion=source.toolkit.fluxcd.io/v1beta2"), "OCIRepository is known as apiVersion source.toolkit.fluxcd.io/v1"},
		{obj(t, goodSecretStore, "apiVersion=external-secrets.io/v1beta1"), "SecretStore is known as apiVersion external-secrets.io/v1"},
		{obj(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"), `list "example.com/v1/Widget"`},
	} {
		got := Objects("r", []Object{{Component: "c", Obj: tc.obj}}, Options{})
		if len(got) != 1 || !strings.Contains(got[0].Hint, tc.hint) {
			t.Errorf("got %v, want one problem with hint containing %q", got, tc.hint)
		}
	}
}
