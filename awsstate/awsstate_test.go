package awsstate

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fixture reads the files of one region of the example fleet (demo,
// coderdemo.io) from testdata/<region>/: "primary" (us-east-2 with LiteLLM
// public) or "proxy" (us-west-2), as coderfleet renders them.
func fixture(t testing.TB, region string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{CertificatesFile, HealthChecksFile, RecordsFile} {
		b, err := os.ReadFile(filepath.Join("testdata", region, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// TestFixturesRoundTrip checks that the fixtures parse and marshal back
// byte for byte: Marshal's layout is the rendered one.
func TestFixturesRoundTrip(t *testing.T) {
	for _, region := range []string{"primary", "proxy"} {
		for name, b := range fixture(t, region) {
			f, err := Parse(name, b)
			if err != nil {
				t.Fatalf("%s/%s: %v", region, name, err)
			}
			out, err := Marshal(*f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Errorf("%s/%s: Marshal(Parse()) differs:\n%s\n---\n%s", region, name, out, b)
			}
		}
	}
}

func TestParseErrorsNameFileLineAndKey(t *testing.T) {
	good := fixture(t, "primary")
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
	good := fixture(t, "primary")
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
	good := fixture(t, "primary")
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
