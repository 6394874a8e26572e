package render

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/config"
)

// awsInput is a small `aws` result: one certificate, health check and
// record for Service web/web, and one role for ServiceAccount web/web.
const awsInput = `{
  "hostedZone": "example.com",
  "certificates": [{"name": "web", "awsRegion": "us-east-2", "domainName": "web.example.com",
    "validation": {"method": "DNS", "hostedZone": "example.com", "ttl": 60}}],
  "healthChecks": [{"name": "web", "type": "HTTPS", "fqdn": "web.example.com", "port": 443, "resourcePath": "/",
    "requestInterval": 30, "failureThreshold": 3, "measureLatency": false}],
  "records": [{"name": "web.example.com", "type": "A", "routing": {"policy": "simple"},
    "alias": {"service": "web/web", "cluster": "c1", "awsRegion": "us-east-2", "evaluateTargetHealth": false}}],
  "roles": [{"name": "c1-web", "path": "/coderfleet/demo/", "serviceAccount": {"namespace": "web", "name": "web"},
    "cluster": {"name": "c1", "awsRegion": "us-east-2"}}]
}`

const webRoleARN = "arn:aws:iam::123456789012:role/coderfleet/demo/c1-web"

func webRegion() *config.RegionConfig {
	return &config.RegionConfig{Region: config.Region{Name: "us-east-2", AWSRegion: "us-east-2"}, Dir: "overlays/us-east-2",
		Certificates: map[string]string{"web": "arn:aws:acm:us-east-2:123456789012:certificate/11111111-1111-1111-1111-111111111111"}}
}

func webObjects(svcType, certARN, saARN string) regionObjects {
	svc := map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "web", "namespace": "web",
		"annotations": map[string]any{annotationSSLCert: certARN}}, "spec": map[string]any{"type": svcType}}
	sa := map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "web", "namespace": "web",
		"annotations": map[string]any{annotationRoleARN: saARN}}}
	return regionObjects{byComp: map[string][]map[string]any{"web": {svc, sa}}}
}

func parsed(t *testing.T, in string) awsState {
	t.Helper()
	s, err := parseAWS("demo", "us-east-2", json.RawMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseAWSWritesTheFilesItReads(t *testing.T) {
	files, err := parsed(t, awsInput).files()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{awsstate.CertificatesFile, awsstate.HealthChecksFile, awsstate.RecordsFile, awsstate.RolesFile} {
		f, err := awsstate.Parse(name, files[name])
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, files[name])
		}
		if f.Fleet != "demo" || f.Region != "us-east-2" {
			t.Errorf("%s header: fleet %q region %q", name, f.Fleet, f.Region)
		}
	}
	if _, ok := files[awsstate.SecretsFile]; ok {
		t.Errorf("secrets.yaml written though aws has no secrets")
	}
	if !strings.Contains(string(files[awsstate.RecordsFile]), "hostedZone: example.com\n") {
		t.Errorf("records.yaml without the hosted zone:\n%s", files[awsstate.RecordsFile])
	}
}

func TestParseAWSRefusesWhatSyncWouldRefuse(t *testing.T) {
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".example.com"
	for name, c := range map[string]struct{ in, want string }{
		"missing":         {`{"hostedZone": "example.com", "certificates": [], "healthChecks": []}`, `key "aws.records"|missing`},
		"unknown key":     {strings.Replace(awsInput, `"hostedZone"`, `"zones": 1, "hostedZone"`, 1), `key "aws.zones"|unknown key "zones"`},
		"unknown item":    {strings.Replace(awsInput, `"type": "A",`, `"type": "A", "ttl": 60,`, 1), `key "aws.records[0].ttl"|unknown key`},
		"wrong type":      {strings.Replace(awsInput, `"port": 443`, `"port": "https"`, 1), `key "aws.healthChecks[0].port"|expected an integer`},
		"name too long":   {strings.Replace(awsInput, `"domainName": "web.example.com"`, `"domainName": "`+long+`"`, 1), `key "aws.certificates[0].domainName"`},
		"outside zone":    {strings.Replace(awsInput, `"name": "web.example.com"`, `"name": "web.example.org"`, 1), `key "aws.records[0].name"`},
		"not an object":   {`[]`, `key "aws"|must be an object`},
		"absent":          {``, `the template returned no aws`},
		"role list":       {strings.Replace(awsInput, `"path": "/coderfleet/demo/", `, ``, 1), `key "aws.roles[0].path"|missing required key`},
		"service not ref": {strings.Replace(awsInput, `"web/web"`, `"web"`, 1), `key "aws.records[0].alias.service"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseAWS("demo", "us-east-2", json.RawMessage(c.in))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range strings.Split(c.want, "|") {
				if !IsInputError(err) || !strings.HasPrefix(err.Error(), EntryPoint+": ") || !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant an input error at %s containing %q", err, EntryPoint, w)
				}
			}
		})
	}
}

func TestCrossCheckAcceptsMatchingObjects(t *testing.T) {
	r := webRegion()
	if errs, _ := crossCheck("123456789012", r, parsed(t, awsInput), webObjects("LoadBalancer", r.Certificates["web"], webRoleARN), &blamer{region: r}); len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestCrossCheckRefusals(t *testing.T) {
	r := webRegion()
	cert := r.Certificates["web"]
	for name, c := range map[string]struct {
		in   string
		objs regionObjects
		want []string
	}{
		"record to a Service not rendered": {strings.Replace(awsInput, `"web/web"`, `"web/site"`, 1), webObjects("LoadBalancer", cert, webRoleARN),
			[]string{`key "aws.records[0].alias.service"`, "records.yaml record web.example.com A: alias service web/site is not rendered in region us-east-2 (Services of type LoadBalancer there: web/web)"}},
		"record to a ClusterIP Service": {awsInput, webObjects("ClusterIP", cert, webRoleARN),
			[]string{"alias service web/web is a Service of type ClusterIP", "(Services of type LoadBalancer there: none)"}},
		"certificate not in aws.certificates": {strings.Replace(awsInput, `"name": "web", "awsRegion"`, `"name": "site", "awsRegion"`, 1), webObjects("LoadBalancer", cert, webRoleARN),
			[]string{"object Service/web/web", `is certificate "web" of overlays/us-east-2/outputs.yaml, which is not a certificate of the region's aws.certificates`, "(certificates there: site)"}},
		"role for a ServiceAccount not rendered": {strings.Replace(awsInput, `"namespace": "web", "name": "web"}`, `"namespace": "web", "name": "worker"}`, 1), webObjects("LoadBalancer", cert, ""),
			[]string{`key "aws.roles[0].serviceAccount"`, "role c1-web: its trust subject system:serviceaccount:web:worker names ServiceAccount web/worker, which is not rendered in region us-east-2 (ServiceAccounts in namespace web: web/web)"}},
		"annotation differs from the role": {awsInput, webObjects("LoadBalancer", cert, "arn:aws:iam::123456789012:role/other"),
			[]string{"object ServiceAccount/web/web", "ServiceAccount web/web assumes role arn:aws:iam::123456789012:role/other, but its role c1-web in templates/main.jsonnet (aws.roles) has ARN " + webRoleARN}},
		"annotation without a role": {strings.Replace(awsInput, `"namespace": "web", "name": "web"}`, `"namespace": "web", "name": "worker"}`, 1), webObjects("LoadBalancer", cert, webRoleARN),
			[]string{"ServiceAccount web/web assumes role " + webRoleARN + ", but roles.yaml has no role for it"}},
	} {
		t.Run(name, func(t *testing.T) {
			errs, _ := crossCheck("123456789012", r, parsed(t, c.in), c.objs, &blamer{region: r, changed: map[string]bool{}})
			if len(errs) == 0 {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(errs.Error(), w) {
					t.Errorf("errors:\n%s\nwant %q", errs, w)
				}
			}
		})
	}
}

func TestCrossCheckRolesOnlyWhenRolesAreWritten(t *testing.T) {
	r := webRegion()
	i := strings.Index(awsInput, `,
  "roles"`)
	external := awsInput[:i] + "\n}"
	if errs, _ := crossCheck("123456789012", r, parsed(t, external), webObjects("LoadBalancer", r.Certificates["web"], "arn:aws:iam::123456789012:role/set-by-hand"), &blamer{region: r}); len(errs) > 0 {
		t.Fatalf("IAM managed elsewhere, yet: %v", errs)
	}
}

func TestCrossCheckAcceptsAHelmReleaseServiceAccount(t *testing.T) {
	r := webRegion()
	in := strings.Replace(awsInput, `"namespace": "web", "name": "web"}`, `"namespace": "kube-system", "name": "controller"}`, 1)
	objs := webObjects("LoadBalancer", r.Certificates["web"], "")
	hr := map[string]any{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": map[string]any{"name": "ctl", "namespace": "flux-system"},
		"spec": map[string]any{"targetNamespace": "kube-system", "values": map[string]any{"serviceAccount": map[string]any{"name": "controller",
			"annotations": map[string]any{annotationRoleARN: webRoleARN}}}}}
	objs.byComp["addons"] = []map[string]any{hr}
	if errs, _ := crossCheck("123456789012", r, parsed(t, in), objs, &blamer{region: r}); len(errs) > 0 {
		t.Fatal(errs)
	}
	// The annotation in the values is checked like a ServiceAccount's.
	hr["spec"].(map[string]any)["values"].(map[string]any)["serviceAccount"].(map[string]any)["annotations"] = map[string]any{annotationRoleARN: "arn:aws:iam::123456789012:role/x"}
	errs, _ := crossCheck("123456789012", r, parsed(t, in), objs, &blamer{region: r, changed: map[string]bool{}})
	if len(errs) != 1 || !strings.Contains(errs.Error(), "field spec.values.serviceAccount.annotations.eks.amazonaws.com/role-arn") {
		t.Fatalf("errors: %v", errs)
	}
}
