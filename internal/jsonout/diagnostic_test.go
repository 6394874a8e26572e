package jsonout

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/coderfleet/coderfleet/internal/diag"
)

func TestDiagnosticsParseTheErrorLineFormat(t *testing.T) {
	cases := []struct {
		msg  string
		want string
	}{
		{`overlays/us-west-2/region.yaml:5:1: key "role": a second region has role: primary (hint: exactly one region is primary; make the others role: proxy)`,
			`{"message":"overlays/us-west-2/region.yaml:5:1: key \"role\": a second region has role: primary (hint: exactly one region is primary; make the others role: proxy)","file":"overlays/us-west-2/region.yaml","line":5,"column":1,"key":"role","region":null,"component":null,"object":null,"field":null,"hint":"exactly one region is primary; make the others role: proxy"}`},
		{`templates/main.jsonnet:12: region eu-west-2, component coder, object Deployment coder/coder, field spec.replicas: must be positive (hint: set it)`,
			`{"message":"templates/main.jsonnet:12: region eu-west-2, component coder, object Deployment coder/coder, field spec.replicas: must be positive (hint: set it)","file":"templates/main.jsonnet","line":12,"column":null,"key":null,"region":"eu-west-2","component":"coder","object":"Deployment coder/coder","field":"spec.replicas","hint":"set it"}`},
		{`overlays/fleet.yaml: key "domain": required`,
			`{"message":"overlays/fleet.yaml: key \"domain\": required","file":"overlays/fleet.yaml","line":null,"column":null,"key":"domain","region":null,"component":null,"object":null,"field":null,"hint":null}`},
		{"saved plan p is stale, nothing was applied:\n  file a changed\n(hint: plan again)",
			`{"message":"saved plan p is stale, nothing was applied:\n  file a changed\n(hint: plan again)","file":null,"line":null,"column":null,"key":null,"region":null,"component":null,"object":null,"field":null,"hint":"plan again"}`},
		{`reading AWS state: looking up hosted zone: boom`,
			`{"message":"reading AWS state: looking up hosted zone: boom","file":null,"line":null,"column":null,"key":null,"region":null,"component":null,"object":null,"field":null,"hint":null}`},
	}
	for _, c := range cases {
		d := Diagnostics(c.msg)
		if len(d) != 1 {
			t.Fatalf("%q: %d diagnostics, want 1", c.msg, len(d))
		}
		got, _ := json.Marshal(d[0])
		if string(got) != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.msg, got, c.want)
		}
	}
}

type joined []error

func (j joined) Error() string   { return errors.Join(j...).Error() }
func (j joined) Unwrap() []error { return j }

func TestFromErrorSplitsLists(t *testing.T) {
	lines := Diagnostics("a.yaml:1: x\nb.yaml:2:3: key \"k\": y")
	if len(lines) != 2 || *lines[1].File != "b.yaml" || *lines[1].Column != 3 || *lines[1].Key != "k" {
		t.Errorf("one per located line: %+v", lines)
	}
	if d := Diagnostics("a.yaml:1: x\n  more text"); len(d) != 1 {
		t.Errorf("a message with an unlocated line is one diagnostic, got %d", len(d))
	}
	err := fmt.Errorf("%w", joined{errors.New("region a: bad"), errors.New("c.yaml:4: worse")})
	d := FromError(err)
	if len(d) != 2 || d[0].Region == nil || *d[0].Region != "a" || *d[1].Line != 4 {
		t.Errorf("joined errors: %+v", d)
	}
	if d := FromError(fmt.Errorf("rendering at HEAD: %w", joined{errors.New("x"), errors.New("y")})); len(d) != 1 {
		t.Errorf("a wrapper that adds words keeps one diagnostic, got %d", len(d))
	}
}

func TestFromErrorReadsTheDiagnosticType(t *testing.T) {
	e := &diag.Error{File: "overlays/fleet.yaml", Line: 7, Col: 3, Key: "coder.replicas", Msg: "must be positive", Hint: "set 1 or more"}
	d := FromError(fmt.Errorf("loading the fleet: %w", e))
	if len(d) != 1 || *d[0].File != "overlays/fleet.yaml" || *d[0].Line != 7 || *d[0].Column != 3 || *d[0].Key != "coder.replicas" ||
		*d[0].Hint != "set 1 or more" || d[0].Region != nil || d[0].Message != "loading the fleet: "+e.Error() {
		t.Errorf("one wrapped problem: %+v", d)
	}
	// A hint or key the text format cannot carry unambiguously still
	// arrives whole: the fields are read, not parsed back.
	odd := &diag.Error{Region: "eu-west-2", Object: "Service coder/coder, primary", Msg: "x: y", Hint: "a (b)"}
	list := diag.List{e, odd}
	d = FromError(list)
	if len(d) != 2 || *d[1].Object != "Service coder/coder, primary" || *d[1].Hint != "a (b)" || d[1].File != nil {
		t.Errorf("a list: %+v", d)
	}
	if d := FromError(fmt.Errorf("rendering at HEAD: %w", list)); len(d) != 1 {
		t.Errorf("several problems under a wrapper's own words are one diagnostic, got %d", len(d))
	}
}

func TestNewResource(t *testing.T) {
	r := NewResource("us-west-2", KindCertificate, "proxy", "")
	b, _ := json.Marshal(r)
	if string(b) != `{"address":"us-west-2/certificate/proxy","region":"us-west-2","kind":"certificate","name":"proxy","id":null}` {
		t.Errorf("%s", b)
	}
	r = NewResource("", KindRecord, "_coderfleet.example.com TXT", "")
	if r.Address != "*/record/_coderfleet.example.com TXT" || r.Region != nil {
		t.Errorf("%+v", r)
	}
}
