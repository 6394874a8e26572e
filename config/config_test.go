package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/testfleet"
)

func load(t *testing.T, files map[string]string) (*config.Config, error) {
	t.Helper()
	fsys, repo := testfleet.MemFS(t, files)
	return config.Load(fsys, repo, config.LoadOptions{})
}

func TestLoadValidFleet(t *testing.T) {
	cfg, err := load(t, testfleet.With(testfleet.Fleet(), map[string]string{
		"overlays/us-west-2/region.yaml": `apiVersion: coderfleet.io/v1alpha1
kind: Region
name: us-west-2
awsRegion: us-west-2
role: proxy
clusterName: demo-usw2
displayName: Oregon
overrides:
  proxy:
    replicas: 5
  iam:
    mode: external
  keySync:
    roleARN: arn:aws:iam::{account}:role/{cluster}-{region}-ks
`,
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := len(cfg.Regions); got != 2 {
		t.Fatalf("regions = %d, want 2", got)
	}
	if p := cfg.Primary(); p == nil || p.Region.Name != "us-east-2" {
		t.Fatalf("primary = %+v", p)
	}
	west := cfg.Region("us-west-2")
	if west.Settings.Proxy.Replicas != 5 {
		t.Errorf("override not applied: proxy.replicas = %d", west.Settings.Proxy.Replicas)
	}
	if east := cfg.Region("us-east-2"); east.Settings.Proxy.Replicas != 2 {
		t.Errorf("override leaked into another region: proxy.replicas = %d", east.Settings.Proxy.Replicas)
	}
	if got, want := west.Settings.KeySync.RoleARN, "arn:aws:iam::123456789012:role/demo-usw2-us-west-2-ks"; got != want {
		t.Errorf("placeholders: roleARN = %q, want %q", got, want)
	}
	if got := west.Settings.Proxy.Resources.Limits.Memory; got != "1Gi" {
		t.Errorf("default lost by merge: proxy.resources.limits.memory = %q", got)
	}
	if got := west.Region.DisplayName; got != "Oregon" {
		t.Errorf("displayName = %q", got)
	}
	if got := cfg.Region("us-east-2").Region.DisplayName; got != "us-east-2" {
		t.Errorf("displayName default = %q, want the region name", got)
	}
	if a := west.Settings.Addons["cert-manager"]; a == nil || a.Version != "v1.18.2" || !a.Enabled {
		t.Errorf("default add-on missing: %+v", a)
	}
}

func TestAddonsMergeOverDefaults(t *testing.T) {
	files := testfleet.Fleet()
	files["overlays/fleet.yaml"] += `addons:
  karpenter:
    version: 1.7.0
  external-dns:
    chart: external-dns
    repository: https://kubernetes-sigs.github.io/external-dns/
    version: 1.15.0
    namespace: external-dns
`
	cfg, err := load(t, files)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Regions[0].Settings.Addons
	if a["karpenter"].Version != "1.7.0" || a["karpenter"].Namespace != "karpenter" {
		t.Errorf("karpenter = %+v, want version overridden and namespace kept", a["karpenter"])
	}
	if !a["external-dns"].Enabled {
		t.Errorf("a new add-on must default to enabled")
	}
	if a["metrics-server"] == nil {
		t.Errorf("untouched default add-on dropped")
	}
}

// badCase is one defect in an otherwise valid fleet and the error it must
// produce: the file, the line, the key and a phrase of the message.
type badCase struct {
	name    string
	changes map[string]string
	file    string
	line    int
	key     string
	phrase  string
}

const fleetHead = `apiVersion: coderfleet.io/v1alpha1
kind: Fleet
name: demo
domain: coder.example.com
hostedZone: example.com
awsAccountID: "123456789012"
`

func regionFile(body string) string {
	return "apiVersion: coderfleet.io/v1alpha1\nkind: Region\n" + body
}

func TestLoadRejectsBadConfig(t *testing.T) {
	cases := []badCase{
		{name: "unknown top-level key", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "domian: x\n"},
			file: "overlays/fleet.yaml", line: 7, key: "domian", phrase: `unknown key (hint: did you mean "domain"?)`},
		{name: "unknown nested key", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "coder:\n  replica: 2\n"},
			file: "overlays/fleet.yaml", line: 8, key: "coder.replica", phrase: `did you mean "replicas"`},
		{name: "unknown key in list item", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "workspaceNamespaces:\n  - name: ws\n    organization: o\n    org: x\n"},
			file: "overlays/fleet.yaml", line: 10, key: "workspaceNamespaces[0].org", phrase: "unknown key"},
		{name: "wrong type int", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "coder:\n  replicas: two\n"},
			file: "overlays/fleet.yaml", line: 8, key: "coder.replicas", phrase: `expected an integer, got the string "two"`},
		{name: "wrong type string", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "kubernetes:\n  version: 1.33\n"},
			file: "overlays/fleet.yaml", line: 8, key: "kubernetes.version", phrase: `expected a string, got the number 1.33 (hint: quote it`},
		{name: "wrong type mapping", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "coder: yes\n"},
			file: "overlays/fleet.yaml", line: 7, key: "coder", phrase: "expected a mapping"},
		{name: "wrong type bool", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "coder:\n  prometheus: \"yes\"\n"},
			file: "overlays/fleet.yaml", line: 8, key: "coder.prometheus", phrase: "expected a boolean"},
		{name: "missing required key", changes: map[string]string{"overlays/fleet.yaml": strings.Replace(fleetHead, "domain: coder.example.com\n", "", 1)},
			file: "overlays/fleet.yaml", line: 1, key: "domain", phrase: "missing required key"},
		{name: "missing required key in list item", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "workspaceNamespaces:\n  - name: ws\n"},
			file: "overlays/fleet.yaml", line: 8, key: "workspaceNamespaces[0].organization", phrase: "missing required key"},
		{name: "duplicate key", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "name: again\n"},
			file: "overlays/fleet.yaml", line: 7, key: "name", phrase: "duplicate key (hint: remove one of the two; the first is at line 3)"},
		{name: "malformed yaml", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "coder:\n  replicas: [1,\n"},
			file: "overlays/fleet.yaml", line: 0, phrase: "invalid YAML"},
		{name: "yaml alias", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "coder: &c {replicas: 1}\nproxy: *c\n"},
			file: "overlays/fleet.yaml", line: 7, phrase: "anchors and aliases are not supported"},
		{name: "empty fleet file", changes: map[string]string{"overlays/fleet.yaml": "# nothing\n"},
			file: "overlays/fleet.yaml", phrase: "file is empty"},
		{name: "missing fleet file", changes: map[string]string{"overlays/fleet.yaml": ""},
			file: "overlays/fleet.yaml", phrase: "cannot read the fleet file"},
		{name: "bad apiVersion", changes: map[string]string{"overlays/fleet.yaml": strings.Replace(fleetHead, "v1alpha1", "v9", 1)},
			file: "overlays/fleet.yaml", line: 1, key: "apiVersion", phrase: "unsupported apiVersion"},
		{name: "invalid domain", changes: map[string]string{"overlays/fleet.yaml": strings.Replace(fleetHead, "coder.example.com", "Coder_Example", 1)},
			file: "overlays/fleet.yaml", line: 4, key: "domain", phrase: "is not a valid domain name"},
		{name: "domain outside zone", changes: map[string]string{"overlays/fleet.yaml": strings.Replace(fleetHead, "coder.example.com", "coder.example.org", 1)},
			file: "overlays/fleet.yaml", line: 4, key: "domain", phrase: `outside the hosted zone "example.com"`},
		{name: "bad account id", changes: map[string]string{"overlays/fleet.yaml": strings.Replace(fleetHead, "123456789012", "1234", 1)},
			file: "overlays/fleet.yaml", line: 6, key: "awsAccountID", phrase: "is not an AWS account id"},
		{name: "latest image", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "coder:\n  image:\n    tag: latest\n"},
			file: "overlays/fleet.yaml", line: 9, key: "coder.image.tag", phrase: "is not pinned"},
		{name: "bad quantity", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "proxy:\n  resources:\n    limits:\n      memory: lots\n"},
			file: "overlays/fleet.yaml", line: 10, key: "proxy.resources.limits.memory", phrase: "is not a valid quantity"},
		{name: "request above limit", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "proxy:\n  resources:\n    requests:\n      cpu: \"8\"\n"},
			file: "overlays/fleet.yaml", line: 10, key: "proxy.resources.requests.cpu", phrase: "is above limit"},
		{name: "region override lowers a limit below the fleet's request", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: us-west-2\nawsRegion: us-west-2\nrole: proxy\nclusterName: c\noverrides:\n  proxy:\n    resources:\n      limits:\n        memory: 128Mi\n")},
			file: "overlays/us-west-2/region.yaml", line: 11, key: "proxy.resources.limits.memory", phrase: "request 512Mi is above limit 128Mi"},
		{name: "bad duration", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "keySync:\n  refreshInterval: soon\n"},
			file: "overlays/fleet.yaml", line: 8, key: "keySync.refreshInterval", phrase: "is not a positive duration"},
		{name: "sync slower than key lifetime", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "keySync:\n  refreshInterval: 4h\n  keyLifetime: 5m\nworkspaceNamespaces: [{name: ws, organization: o}]\n"},
			file: "overlays/fleet.yaml", line: 8, key: "keySync.refreshInterval", phrase: "is not shorter than the key lifetime"},
		{name: "weekly cron sync with day-long keys", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "keySync:\n  mode: cronjob\n  syncSchedule: \"0 0 * * 0\"\n  keyLifetime: 24h\nworkspaceNamespaces: [{name: ws, organization: o}]\n"},
			file: "overlays/fleet.yaml", line: 9, key: "keySync.syncSchedule", phrase: `syncSchedule "0 0 * * 0" runs as rarely as every 168h in Etc/UTC`},
		{name: "weekly rotation with day-long keys", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "keySync:\n  rotateSchedule: \"0 0 * * 0\"\nworkspaceNamespaces: [{name: ws, organization: o}]\n"},
			file: "overlays/fleet.yaml", line: 8, key: "keySync.rotateSchedule", phrase: "is 168h15m, which is not shorter than the key lifetime 24h"},
		{name: "a region's slower sync breaks the fleet's key lifetime", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: us-west-2\nawsRegion: us-west-2\nrole: proxy\nclusterName: c\noverrides:\n  keySync:\n    refreshInterval: 12h\n")},
			file: "overlays/us-west-2/region.yaml", line: 9, key: "keySync.refreshInterval", phrase: "is 24h, which is not shorter than the key lifetime 24h"},
		{name: "a proxy reads another secret", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: us-west-2\nawsRegion: us-west-2\nrole: proxy\nclusterName: c\noverrides:\n  keySync:\n    secretID: other/key\n")},
			file: "overlays/us-west-2/region.yaml", line: 9, key: "keySync.secretID", phrase: `differs from "litellm/workspace-key"`},
		{name: "bad cron", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "keySync:\n  rotateSchedule: every day\n"},
			file: "overlays/fleet.yaml", line: 8, key: "keySync.rotateSchedule", phrase: "is not a valid cron schedule"},
		{name: "bad key sync mode", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "keySync:\n  mode: magic\n"},
			file: "overlays/fleet.yaml", line: 8, key: "keySync.mode", phrase: "use one of: externalsecrets, cronjob"},
		{name: "bad secrets mode", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "secrets:\n  mode: vault\n"},
			file: "overlays/fleet.yaml", line: 8, key: "secrets.mode", phrase: "invalid value \"vault\" (hint: use one of: externalsecrets, manual)"},
		{name: "bad secrets refresh interval", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "secrets:\n  refreshInterval: hourly\n"},
			file: "overlays/fleet.yaml", line: 8, key: "secrets.refreshInterval", phrase: "is not a positive duration"},
		{name: "unknown secrets key", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "secrets:\n  refresh: 1h\n"},
			file: "overlays/fleet.yaml", line: 8, key: "secrets.refresh", phrase: "unknown key (hint: valid keys here: mode, refreshInterval, roleARN)"},
		{name: "secrets role ARN in managed IAM", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "secrets:\n  roleARN: arn:aws:iam::123456789012:role/x\n"},
			file: "overlays/fleet.yaml", line: 8, key: "secrets.roleARN", phrase: "secrets.roleARN is set, but iam.mode is managed"},
		{name: "secrets role ARN missing in external IAM", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "iam:\n  mode: external\nsecrets:\n  roleARN: \"\"\n"},
			file: "overlays/fleet.yaml", line: 10, key: "secrets.roleARN", phrase: "an IAM role ARN is required"},
		{name: "external secrets without the operator", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "keySync:\n  mode: cronjob\naddons:\n  external-secrets:\n    enabled: false\n"},
			file: "overlays/fleet.yaml", line: 11, key: "addons.external-secrets.enabled", phrase: "secrets.mode externalsecrets needs the external-secrets add-on"},
		{name: "bad CIDR", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "coder:\n  loadBalancer:\n    sourceRanges: [10.0.0.0/33]\n"},
			file: "overlays/fleet.yaml", line: 9, key: "coder.loadBalancer.sourceRanges[0]", phrase: "is not a CIDR"},
		{name: "addon version range", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "addons:\n  karpenter:\n    version: ^1.6\n"},
			file: "overlays/fleet.yaml", line: 9, key: "addons.karpenter.version", phrase: "is not an exact version"},
		{name: "addon in default namespace", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "addons:\n  metrics-server:\n    namespace: default\n"},
			file: "overlays/fleet.yaml", line: 9, key: "addons.metrics-server.namespace", phrase: "must not go into namespace default"},
		{name: "duplicate workspace namespace", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "workspaceNamespaces:\n  - {name: ws, organization: a}\n  - {name: ws, organization: b}\n"},
			file: "overlays/fleet.yaml", line: 9, key: "workspaceNamespaces[1].name", phrase: "duplicate workspace namespace"},
		{name: "region without region.yaml", changes: map[string]string{"overlays/eu-west-1/README.md": "hi\n"},
			file: "overlays/eu-west-1/region.yaml", phrase: "region folder has no region.yaml"},
		{name: "empty region file", changes: map[string]string{"overlays/us-west-2/region.yaml": "\n"},
			file: "overlays/us-west-2/region.yaml", phrase: "file is empty"},
		{name: "folder name mismatch", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: oregon\nawsRegion: us-west-2\nrole: proxy\nclusterName: c\n")},
			file: "overlays/us-west-2/region.yaml", line: 3, key: "name", phrase: `name "oregon" differs from its folder "us-west-2"`},
		{name: "unknown aws region", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: us-west-2\nawsRegion: us-west-9\nrole: proxy\nclusterName: c\n")},
			file: "overlays/us-west-2/region.yaml", line: 4, key: "awsRegion", phrase: `unknown AWS region "us-west-9" (hint: did you mean "us-west-1"?)`},
		{name: "bad role", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: us-west-2\nawsRegion: us-west-2\nrole: secondary\nclusterName: c\n")},
			file: "overlays/us-west-2/region.yaml", line: 5, key: "role", phrase: "use one of: primary, proxy"},
		{name: "unknown region key", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: us-west-2\nawsRegion: us-west-2\nrole: proxy\nclusterName: c\ncluster: d\n")},
			file: "overlays/us-west-2/region.yaml", line: 7, key: "cluster", phrase: `did you mean "clusterName"`},
		{name: "unknown key in overrides", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: us-west-2\nawsRegion: us-west-2\nrole: proxy\nclusterName: c\noverrides:\n  proxy:\n    replicaz: 2\n")},
			file: "overlays/us-west-2/region.yaml", line: 9, key: "proxy.replicaz", phrase: "unknown key"},
		{name: "bad value in overrides", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: us-west-2\nawsRegion: us-west-2\nrole: proxy\nclusterName: c\noverrides:\n  proxy:\n    replicas: 0\n")},
			file: "overlays/us-west-2/region.yaml", line: 9, key: "proxy.replicas", phrase: "replicas must be at least 1"},
		{name: "identity key in overrides", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: us-west-2\nawsRegion: us-west-2\nrole: proxy\nclusterName: c\noverrides:\n  domain: other.example.com\n")},
			file: "overlays/us-west-2/region.yaml", line: 8, key: "overrides.domain", phrase: "cannot be overridden per region"},
		{name: "two primaries", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: us-west-2\nawsRegion: us-west-2\nrole: primary\nclusterName: c\n")},
			file: "overlays/us-west-2/region.yaml", line: 5, key: "role", phrase: "a second region has role: primary (overlays/us-east-2/region.yaml, overlays/us-west-2/region.yaml)"},
		{name: "no primary", changes: map[string]string{"overlays/us-east-2/region.yaml": regionFile("name: us-east-2\nawsRegion: us-east-2\nrole: proxy\nclusterName: c\n")},
			file: "overlays", key: "role", phrase: "no region has role: primary"},
		{name: "duplicate region names", changes: map[string]string{"overlays/US-WEST-2/region.yaml": regionFile("name: US-WEST-2\nawsRegion: us-west-2\nrole: proxy\nclusterName: x\n")},
			file: "overlays/US-WEST-2/region.yaml", line: 3, key: "name", phrase: "is not a valid region name"},
		{name: "same cluster twice", changes: map[string]string{"overlays/oregon/region.yaml": regionFile("name: oregon\nawsRegion: us-west-2\nrole: proxy\nclusterName: demo-usw2\n")},
			file: "overlays/us-west-2/region.yaml", line: 6, key: "clusterName", phrase: `also used by region "oregon"`},
		{name: "no regions", changes: map[string]string{"overlays/us-east-2/region.yaml": "", "overlays/us-west-2/region.yaml": "", "overlays/.keep": "x"},
			file: "overlays", phrase: "the fleet has no regions"},
		{name: "role ARN placeholder typo", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "iam:\n  mode: external\nlitellm:\n  roleARN: arn:aws:iam::{acount}:role/x\n"},
			file: "overlays/fleet.yaml", line: 10, key: "litellm.roleARN", phrase: "is not an IAM role ARN"},
		{name: "role ARN in managed mode", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "addons:\n  karpenter:\n    roleARN: arn:aws:iam::{account}:role/k\n"},
			file: "overlays/fleet.yaml", line: 9, key: "addons.karpenter.roleARN", phrase: "set iam.mode: external to keep your own roles"},
		{name: "a region's role ARN in managed mode", changes: map[string]string{"overlays/us-west-2/region.yaml": regionFile("name: us-west-2\nawsRegion: us-west-2\nrole: proxy\nclusterName: c\noverrides:\n  workspaceNamespaces:\n    - name: ws\n      organization: o\n      roleARN: arn:aws:iam::{account}:role/p\n")},
			file: "overlays/us-west-2/region.yaml", line: 11, key: "workspaceNamespaces[0].roleARN", phrase: "workspaceNamespaces[0].roleARN is set, but iam.mode is managed"},
		{name: "bad iam mode", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "iam:\n  mode: terraform\n"},
			file: "overlays/fleet.yaml", line: 8, key: "iam.mode", phrase: "use one of: managed, external"},
		{name: "workspace permissions in external mode", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "iam:\n  mode: external\nworkspaceNamespaces:\n  - name: ws\n    organization: o\n    iam:\n      managedPolicies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n"},
			file: "overlays/fleet.yaml", line: 12, key: "workspaceNamespaces[0].iam", phrase: "iam.mode is external"},
		{name: "bad managed policy ARN", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "workspaceNamespaces:\n  - name: ws\n    organization: o\n    iam:\n      managedPolicies: [arn:aws:iam::aws:role/ReadOnlyAccess]\n"},
			file: "overlays/fleet.yaml", line: 11, key: "workspaceNamespaces[0].iam.managedPolicies[0]", phrase: "policy/<path><name>"},
		{name: "bad statement action", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "workspaceNamespaces:\n  - name: ws\n    organization: o\n    iam:\n      statements:\n        - actions: [GetObject]\n          resources: ['*']\n"},
			file: "overlays/fleet.yaml", line: 12, key: "workspaceNamespaces[0].iam.statements[0].actions[0]", phrase: `"GetObject" is not an IAM action`},
		{name: "wildcard allowance without reason", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "iam:\n  allowWildcards:\n    - {role: '{cluster}-provisioner-ws', action: 's3:*', reason: ' '}\n"},
			file: "overlays/fleet.yaml", line: 9, key: "iam.allowWildcards[0].reason", phrase: "reason is empty"},
		{name: "KMS key in another region", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "keySync:\n  kmsKeyID: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\n"},
			file: "overlays/fleet.yaml", line: 8, key: "keySync.kmsKeyID", phrase: "Secrets Manager encrypts a secret only with a key of its own region"},
		{name: "KMS alias", changes: map[string]string{"overlays/fleet.yaml": fleetHead + "keySync:\n  kmsKeyID: alias/litellm\n"},
			file: "overlays/fleet.yaml", line: 8, key: "keySync.kmsKeyID", phrase: "is not a KMS key ARN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, testfleet.With(testfleet.Fleet(), tc.changes))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !config.IsInputError(err) {
				t.Fatalf("not an input error: %v", err)
			}
			var e *config.Error
			if !errors.As(err, &e) {
				t.Fatalf("no *config.Error in %v", err)
			}
			if e.File != tc.file || (tc.line != 0 && e.Line != tc.line) || e.Key != tc.key {
				t.Errorf("error at %s:%d key %q, want %s:%d key %q\nfull error: %v", e.File, e.Line, e.Key, tc.file, tc.line, tc.key, err)
			}
			if !strings.Contains(err.Error(), tc.phrase) {
				t.Errorf("error %q does not contain %q", err, tc.phrase)
			}
		})
	}
}

// TestManagedIAMLeavesNoRoleARN: in iam.mode managed (the default) the
// role ARN defaults reach no template, and a placeholder in a wildcard
// allowance's role is expanded per region.
func TestManagedIAMLeavesNoRoleARN(t *testing.T) {
	cfg, err := load(t, testfleet.With(testfleet.Fleet(), map[string]string{
		"overlays/fleet.yaml": testfleet.Fleet()["overlays/fleet.yaml"] + "iam:\n  allowWildcards:\n    - {role: '{cluster}-provisioner-ws', action: 's3:*', reason: 'buckets per workspace'}\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg.Regions {
		s := r.Settings
		if s.IAM.Mode != config.IAMManaged {
			t.Errorf("%s: iam.mode = %q, want the default managed", r.Region.Name, s.IAM.Mode)
		}
		if arns := []string{s.LiteLLM.RoleARN, s.KeySync.RoleARN, s.KeySync.RotateRoleARN, s.Addons["karpenter"].RoleARN}; strings.Join(arns, "") != "" {
			t.Errorf("%s: role ARN defaults survived managed mode: %q", r.Region.Name, arns)
		}
		if got, want := s.IAM.AllowWildcards[0].Role, r.Region.ClusterName+"-provisioner-ws"; got != want {
			t.Errorf("%s: allowWildcards[0].role = %q, want %q", r.Region.Name, got, want)
		}
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	_, err := load(t, testfleet.With(testfleet.Fleet(), map[string]string{
		"overlays/fleet.yaml": fleetHead + "coder:\n  replicaz: 1\nproxy:\n  replicaz: 1\n",
	}))
	var l config.ErrorList
	if !errors.As(err, &l) || len(l) != 2 {
		t.Fatalf("want 2 problems in one ErrorList, got %v", err)
	}
	if l[0].Line > l[1].Line {
		t.Errorf("problems not sorted by line: %v", l)
	}
}

func TestBillionLaughsIsRefusedFast(t *testing.T) {
	bomb := fleetHead + "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	_, err := load(t, testfleet.With(testfleet.Fleet(), map[string]string{"overlays/fleet.yaml": bomb}))
	if err == nil || !strings.Contains(err.Error(), "anchors and aliases are not supported") {
		t.Fatalf("want the alias refusal, got %v", err)
	}
}

// TestCertificateARNsOnlyWhereUsed: a fleet-wide certificate ARN must be
// in the AWS region of the regions whose load balancer uses it, and only
// there: coderd's and LiteLLM's certificates in the primary's region and a
// proxy's, set per region, in its own are accepted although the other
// regions are elsewhere; a proxy certificate set fleet-wide is refused for
// the proxy region it does not fit.
func TestCertificateARNsOnlyWhereUsed(t *testing.T) {
	const east = "arn:aws:acm:us-east-2:123456789012:certificate/00000000-0000-4000-8000-000000000001"
	const west = "arn:aws:acm:us-west-2:123456789012:certificate/00000000-0000-4000-8000-000000000003"
	fleet := testfleet.Fleet()["overlays/fleet.yaml"]
	_, err := load(t, testfleet.With(testfleet.Fleet(), map[string]string{
		"overlays/fleet.yaml": fleet + "coder:\n  certificateARN: " + east + "\nlitellm:\n  exposure: public\n  certificateARN: " + east + "\n",
		"overlays/us-west-2/region.yaml": testfleet.Fleet()["overlays/us-west-2/region.yaml"] +
			"overrides:\n  proxy:\n    certificateARN: " + west + "\n",
	}))
	if err != nil {
		t.Fatalf("Load refused certificates that fit where they are used: %v", err)
	}
	_, err = load(t, testfleet.With(testfleet.Fleet(), map[string]string{
		"overlays/fleet.yaml": fleet + "proxy:\n  certificateARN: " + east + "\n",
	}))
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "proxy.certificateARN" || ce.Line == 0 ||
		!strings.Contains(ce.Msg, "region us-west-2:") || !strings.Contains(ce.Msg, "ACM certificates are regional") {
		t.Fatalf("Load = %v; want proxy.certificateARN refused for us-west-2 at its line", err)
	}
}
