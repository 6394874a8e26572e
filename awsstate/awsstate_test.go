package awsstate

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func primaryInput() BuildInput {
	return BuildInput{
		FleetName: "demo", Domain: "coderdemo.io", HostedZone: "coderdemo.io",
		Region: "us-east-2", AWSRegion: "us-east-2", Role: RolePrimary,
		ClusterName: "coder-us-east-2", CoderService: "coder/coder",
		LiteLLMExposed: true, LiteLLMService: "litellm/litellm",
	}
}

func proxyInput() BuildInput {
	return BuildInput{
		FleetName: "demo", Domain: "coderdemo.io", HostedZone: "coderdemo.io",
		Region: "us-west-2", AWSRegion: "us-west-2", Role: RoleProxy,
		ClusterName: "coder-us-west-2", CoderService: "coder-proxy/coder-proxy",
	}
}

func buildParse(t *testing.T, in BuildInput) map[string]*File {
	t.Helper()
	files, err := Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	out := map[string]*File{}
	for name, b := range files {
		if !bytes.HasPrefix(b, []byte("apiVersion: "+APIVersion+"\n")) {
			t.Errorf("%s does not start with apiVersion: %q", name, b)
		}
		f, err := Parse("regions/"+in.Region+"/aws/"+name, b)
		if err != nil {
			t.Fatalf("Parse(Build()) of %s: %v\n%s", name, err, b)
		}
		out[name] = f
	}
	return out
}

func TestBuildPrimaryHasLatencyRecordsCertificatesAndHealthCheck(t *testing.T) {
	files := buildParse(t, primaryInput())
	certs := files[CertificatesFile].Certificates
	if len(certs) != 2 || certs[0].Name != "coder" || certs[1].Name != "litellm" {
		t.Fatalf("certificates = %+v", certs)
	}
	wantSANs := []string{"*.coderdemo.io", "us-east-2.coderdemo.io", "*.us-east-2.coderdemo.io"}
	if certs[0].DomainName != "coderdemo.io" || !reflect.DeepEqual(certs[0].SubjectAlternativeNames, wantSANs) {
		t.Errorf("coder certificate = %+v", certs[0])
	}
	if certs[0].Validation != (Validation{Method: "DNS", HostedZone: "coderdemo.io", TTL: 60}) {
		t.Errorf("validation = %+v", certs[0].Validation)
	}
	if certs[1].DomainName != "llm.coderdemo.io" || len(certs[1].SubjectAlternativeNames) != 0 {
		t.Errorf("litellm certificate = %+v", certs[1])
	}
	if certs[0].Tags[TagFleet] != "demo" || certs[0].Tags[TagRegion] != "us-east-2" || certs[0].Tags[TagName] != "coder" {
		t.Errorf("tags = %v", certs[0].Tags)
	}
	hc := files[HealthChecksFile].HealthChecks
	want := HealthCheck{Name: "coder", Type: "HTTPS", FQDN: "us-east-2.coderdemo.io", Port: 443,
		ResourcePath: "/api/v2/buildinfo", RequestInterval: 30, FailureThreshold: 3, MeasureLatency: true}
	got := hc[0]
	got.Tags = nil
	if len(hc) != 1 || !reflect.DeepEqual(got, want) {
		t.Errorf("health checks = %+v", hc)
	}
	recs := files[RecordsFile].Records
	var keys []string
	for _, r := range recs {
		keys = append(keys, r.Key()+" "+r.Routing.Policy+" "+r.Alias.Service)
	}
	wantKeys := []string{
		"coderdemo.io A [us-east-2] latency coder/coder",
		"*.coderdemo.io A [us-east-2] latency coder/coder",
		"us-east-2.coderdemo.io A simple coder/coder",
		"*.us-east-2.coderdemo.io A simple coder/coder",
		"llm.coderdemo.io A simple litellm/litellm",
	}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("records:\n got %q\nwant %q", keys, wantKeys)
	}
	if r := recs[0]; r.HealthCheck != "coder" || !r.Alias.EvaluateTargetHealth || r.Routing.AWSRegion != "us-east-2" || r.Alias.Cluster != "coder-us-east-2" {
		t.Errorf("apex record = %+v", r)
	}
	if files[RecordsFile].HostedZone != "coderdemo.io" {
		t.Errorf("hostedZone = %q", files[RecordsFile].HostedZone)
	}
}

func TestBuildProxyHasNoApexRecordsAndItsOwnCertificate(t *testing.T) {
	files := buildParse(t, proxyInput())
	certs := files[CertificatesFile].Certificates
	if len(certs) != 1 || certs[0].Name != "proxy" || certs[0].DomainName != "us-west-2.coderdemo.io" ||
		!reflect.DeepEqual(certs[0].SubjectAlternativeNames, []string{"*.us-west-2.coderdemo.io"}) {
		t.Fatalf("certificates = %+v", certs)
	}
	for _, r := range files[RecordsFile].Records {
		if r.Routing.Policy != RoutingSimple || !strings.HasSuffix(r.Name, "us-west-2.coderdemo.io") || r.Alias.Service != "coder-proxy/coder-proxy" {
			t.Errorf("proxy record %+v", r)
		}
	}
	if n := len(files[RecordsFile].Records); n != 2 {
		t.Errorf("proxy has %d records, want 2", n)
	}
	if hc := files[HealthChecksFile].HealthChecks; len(hc) != 1 || hc[0].FQDN != "us-west-2.coderdemo.io" {
		t.Errorf("proxy health check = %+v", hc)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	a, err := Build(primaryInput())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		b, _ := Build(primaryInput())
		if !reflect.DeepEqual(a, b) {
			t.Fatal("two Builds of the same input differ")
		}
	}
	// Re-marshalling the parsed file gives the same bytes: the format is canonical.
	for name, data := range a {
		f, err := Parse(name, data)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Marshal(*f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Errorf("%s not canonical:\n%s\n---\n%s", name, data, again)
		}
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	cases := map[string]func(*BuildInput){
		"role":        func(in *BuildInput) { in.Role = "secondary" },
		"outside":     func(in *BuildInput) { in.HostedZone = "example.com" },
		"litellm":     func(in *BuildInput) { in.Role = RoleProxy },
		"service":     func(in *BuildInput) { in.CoderService = "coder" },
		"empty fleet": func(in *BuildInput) { in.FleetName = "" },
		"region":      func(in *BuildInput) { in.Region = "US East" },
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			in := primaryInput()
			mut(&in)
			if _, err := Build(in); err == nil {
				t.Fatal("Build accepted bad input")
			}
		})
	}
}

// TestBuildRefusesWhatAWSRefuses: Build parses its own output as sync
// will, so names over ACM's and Route53's limits fail at render.
func TestBuildRefusesWhatAWSRefuses(t *testing.T) {
	long := strings.Repeat("a", 63)
	cases := map[string]func(*BuildInput){
		"derived name over 253 characters": func(in *BuildInput) {
			in.Domain = long + "." + long + "." + long + ".coderdemo.io"
			in.Region = strings.Repeat("r", 60)
		},
		"unknown AWS region": func(in *BuildInput) { in.AWSRegion = "us-east-9" },
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			in := proxyInput()
			mut(&in)
			_, err := Build(in)
			if err == nil || !strings.Contains(err.Error(), "https://docs.aws.amazon.com/") {
				t.Fatalf("Build = %v; want the broken AWS rule with its source", err)
			}
		})
	}
}

func TestBuildSubdomainOfZone(t *testing.T) {
	in := proxyInput()
	in.Domain, in.HostedZone = "coder.example.com", "example.com"
	f := buildParse(t, in)
	if f[RecordsFile].HostedZone != "example.com" || f[RecordsFile].Records[0].Name != "us-west-2.coder.example.com" {
		t.Errorf("records = %+v", f[RecordsFile])
	}
}

func TestParseErrorsNameFileLineAndKey(t *testing.T) {
	good, _ := Build(primaryInput())
	recs := string(good[RecordsFile])
	cases := []struct {
		name, data, want string
	}{
		{"unknown key", strings.Replace(recs, "    type: A\n", "    type: A\n    ttl: 60\n", 1), `records.yaml:9:5: records[0].ttl: unknown key (hint: valid keys here: alias, healthCheck, name, routing, setIdentifier, type)`},
		{"wrong type", strings.Replace(recs, "evaluateTargetHealth: true", "evaluateTargetHealth: \"yes\"", 1), `records[0].alias.evaluateTargetHealth: expected a boolean, got the string "yes" (hint: write true or false)`},
		{"missing", strings.Replace(recs, "      cluster: coder-us-east-2\n", "", 1), `records.yaml:15:7: records[0].alias.cluster: missing required key`},
		{"apiVersion", strings.Replace(recs, APIVersion, "coderfleet.io/aws/v9", 1), `records.yaml:1:13: apiVersion: unsupported apiVersion "coderfleet.io/aws/v9"`},
		{"kind", strings.Replace(recs, "kind: RecordList", "kind: Records", 1), `kind: unsupported value "Records"`},
		{"key of another kind", strings.Replace(recs, "kind: RecordList", "kind: CertificateList", 1), `records.yaml:5:1: hostedZone: unknown key (hint: valid keys here: apiVersion, certificates, fleet, kind, region)`},
		{"latency without set id", strings.Replace(recs, "    setIdentifier: us-east-2\n", "", 1), `records[0].setIdentifier: latency routing needs a setIdentifier`},
		{"outside zone", strings.Replace(recs, "name: llm.coderdemo.io", "name: llm.example.com", 1), `is not a lowercase DNS name inside hosted zone "coderdemo.io"`},
		{"duplicate", strings.Replace(recs, "name: llm.coderdemo.io", "name: us-east-2.coderdemo.io", 1), `is also defined by records[2]`},
		{"bad yaml", "apiVersion: [", `records.yaml:2: invalid YAML`},
		{"empty", "", `file is empty`},
		{"list root", "- a\n", `records.yaml:1:1: expected a mapping, got a list`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("regions/us-east-2/aws/records.yaml", []byte(c.data))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", c.data)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\ndoes not contain %q", err, c.want)
			}
		})
	}
}

func TestParseHealthCheckAndCertificateRules(t *testing.T) {
	good, _ := Build(primaryInput())
	hc := strings.Replace(string(good[HealthChecksFile]), "requestInterval: 30", "requestInterval: 20", 1)
	if _, err := Parse("h.yaml", []byte(hc)); err == nil || !strings.Contains(err.Error(), "10 or 30") {
		t.Errorf("interval 20: %v", err)
	}
	cert := strings.Replace(string(good[CertificatesFile]), "domainName: llm.coderdemo.io", "domainName: llm.example.com", 1)
	if _, err := Parse("c.yaml", []byte(cert)); err == nil || !strings.Contains(err.Error(), "outside hosted zone") {
		t.Errorf("cert outside zone: %v", err)
	}
}

func TestOutputsRoundTripAndHeader(t *testing.T) {
	o := Outputs{Certificates: map[string]string{
		"proxy":   "arn:aws:acm:us-west-2:123456789012:certificate/00000000-0000-4000-8000-00000000000b",
		"coder":   "arn:aws:acm:us-east-2:123456789012:certificate/00000000-0000-4000-8000-00000000000a",
		"litellm": "arn:aws:acm:us-east-2:123456789012:certificate/00000000-0000-4000-8000-00000000000c",
	}}
	b := MarshalOutputs(o)
	want := OutputsHeader + `apiVersion: coderfleet.io/v1alpha1
kind: Outputs
certificates:
  coder: arn:aws:acm:us-east-2:123456789012:certificate/00000000-0000-4000-8000-00000000000a
  litellm: arn:aws:acm:us-east-2:123456789012:certificate/00000000-0000-4000-8000-00000000000c
  proxy: arn:aws:acm:us-west-2:123456789012:certificate/00000000-0000-4000-8000-00000000000b
`
	if string(b) != want {
		t.Fatalf("MarshalOutputs:\n%s\nwant:\n%s", b, want)
	}
	got, err := ParseOutputs("overlays/us-east-2/outputs.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Certificates, o.Certificates) {
		t.Errorf("round trip = %v", got.Certificates)
	}
	empty, err := ParseOutputs("o.yaml", MarshalOutputs(Outputs{}))
	if err != nil || len(empty.Certificates) != 0 {
		t.Errorf("empty outputs: %v %v", empty, err)
	}
}

func TestParseOutputsIsStrict(t *testing.T) {
	base := string(MarshalOutputs(Outputs{Certificates: map[string]string{"coder": "arn:aws:acm:us-east-2:1:certificate/a"}}))
	cases := map[string]string{
		"unknown key":  base + "extra: 1\n",
		"not an arn":   strings.Replace(base, "arn:aws:acm:us-east-2:1:certificate/a", "hello", 1),
		"not acm":      strings.Replace(base, "arn:aws:acm:", "arn:aws:iam:", 1),
		"wrong kind":   strings.Replace(base, "kind: Outputs", "kind: Output", 1),
		"bad version":  strings.Replace(base, OutputsAPIVersion, "v1", 1),
		"number value": strings.Replace(base, "arn:aws:acm:us-east-2:1:certificate/a", "12", 1),
		"null value":   strings.Replace(base, "arn:aws:acm:us-east-2:1:certificate/a", "", 1),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseOutputs("overlays/r/outputs.yaml", []byte(data))
			if err == nil {
				t.Fatalf("accepted:\n%s", data)
			}
			if !strings.Contains(err.Error(), `overlays/r/outputs.yaml:`) {
				t.Errorf("error lacks file:line: %v", err)
			}
		})
	}
}

// TestParseReportsEachProblemOnce checks that a value the decoder refuses
// (null, the wrong type) is not refused again by the checks after it.
func TestParseReportsEachProblemOnce(t *testing.T) {
	good, _ := Build(primaryInput())
	recs := string(good[RecordsFile])
	for name, c := range map[string]struct{ data, want string }{
		"null kind":       {strings.Replace(recs, "kind: RecordList", "kind: ~", 1), `records.yaml:2:1: kind: missing required value`},
		"number kind":     {strings.Replace(recs, "kind: RecordList", "kind: 3", 1), `records.yaml:2:7: kind: expected a string, got the number 3`},
		"null awsRegion":  {strings.Replace(recs, "      awsRegion: us-east-2\n", "      awsRegion:\n", 1), `records.yaml:12:17: records[0].routing.awsRegion: missing required key`},
		"string port":     {strings.Replace(string(good[HealthChecksFile]), "port: 443", "port: https", 1), `records.yaml:9:11: healthChecks[0].port: expected an integer, got the string "https"`},
		"list root":       {"- a\n", `records.yaml:1:1: expected a mapping, got a list`},
		"only whitespace": {strings.Replace(recs, "fleet: demo", "fleet: ' '", 1), `records.yaml:3:8: fleet: must not be empty`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("regions/us-east-2/aws/records.yaml", []byte(c.data))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", c.data)
			}
			// The place and key of the problem, e.g. "records.yaml:2:1: kind:".
			place := c.want[:strings.Index(c.want, ": ")+2]
			if key, _, ok := strings.Cut(c.want[len(place):], ": "); ok && !strings.Contains(key, " ") {
				place += key + ":"
			}
			if !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), place) != 1 {
				t.Errorf("error:\n%s\nwant %q, and %q once", err, c.want, place)
			}
		})
	}
}
