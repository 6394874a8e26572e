package sync

import (
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/awsstate"
)

// coderDesired is one proxy region with a proxy and one provisioner key.
func coderDesired() *Desired {
	tok := func(name string) awsstate.Secret {
		return awsstate.Secret{Name: "demo/us-west-2/" + name, AWSRegion: "us-west-2", Tags: awsstate.OwnedTags("demo", "us-west-2", name)}
	}
	return &Desired{Fleet: "demo", Complete: true, Regions: []RegionState{{Region: "us-west-2", Fleet: "demo",
		WorkspaceProxies: []awsstate.WorkspaceProxy{{Name: "us-west-2", DisplayName: "Oregon", Icon: "/emojis/1f1fa-1f1f8.png", TokenSecret: tok("coder-proxy-token")}},
		ProvisionerKeys: []awsstate.ProvisionerKey{{Name: "us-west-2-coder-ws", Organization: "coder",
			Tags: map[string]string{"region": "us-west-2", "namespace": "coder-ws"}, TokenSecret: tok("provisioner-key-coder-ws")}},
	}}}
}

// tokenSecretOf is the token secret sync leaves after storing a token:
// the desired tags, TagCoderObject, TagCoderID and a current value.
func tokenSecretOf(s awsstate.Secret, object, id string) Secret {
	tags := tokenSecretTags(s, object)
	if id != "" {
		tags[TagCoderID] = id
	}
	return Secret{Name: s.Name, ARN: "arn:" + s.Name, AWSRegion: s.AWSRegion, Tags: tags, Owned: true, Region: tags[awsstate.TagRegion],
		CoderObject: object, CoderID: id, HasValue: id != ""}
}

// convergedCoder is the actual state after a complete apply of coderDesired.
func convergedCoder(d *Desired) *Actual {
	r := d.Regions[0]
	p, k := r.WorkspaceProxies[0], r.ProvisionerKeys[0]
	return &Actual{
		Secrets: []Secret{tokenSecretOf(p.TokenSecret, coderProxyObject(p.Name), "proxy-1"), tokenSecretOf(k.TokenSecret, coderKeyObject(k.Organization, k.Name), "key-1")},
		Coder: &CoderState{URL: "https://coder.example.com", OrgIDs: map[string]string{"coder": "org-1"},
			Proxies: []CoderProxy{{ID: "proxy-1", Name: p.Name, DisplayName: p.DisplayName, Icon: p.Icon, Status: "ok"}},
			Keys:    []CoderKey{{ID: "key-1", Org: "coder", Name: k.Name, Tags: k.Tags}}},
	}
}

func changeLines(p *Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, string(c.Action)+" "+c.Resource+" "+c.Address)
	}
	return out
}

func TestPlanCoder(t *testing.T) {
	for _, tc := range []struct {
		name string
		// edit turns the converged state into the case's.
		edit      func(a *Actual)
		pol       Policy
		changes   []string
		conflicts []string // substrings, one per conflict
		fields    []string // "name=new" of the first change
		status    string   // the proxy's text in the plan
	}{
		{name: "converged", edit: func(*Actual) {}, status: "registered, coderd reports ok"},
		{name: "nothing yet", edit: func(a *Actual) { a.Secrets, a.Coder.Proxies, a.Coder.Keys = nil, nil, nil },
			changes: []string{"create workspace-proxy us-west-2/us-west-2", "create provisioner-key us-west-2/coder/us-west-2-coder-ws"},
			fields:  []string{"display-name=Oregon", "icon=/emojis/1f1fa-1f1f8.png", "token-secret=demo/us-west-2/coder-proxy-token (us-west-2)"},
			status:  "not registered"},
		{name: "display name and icon changed", edit: func(a *Actual) { a.Coder.Proxies[0].DisplayName, a.Coder.Proxies[0].Icon = "Old", "/old.png" },
			changes: []string{"update workspace-proxy us-west-2/us-west-2"}, fields: []string{"display-name=Oregon", "icon=/emojis/1f1fa-1f1f8.png"}},
		{name: "unregistered proxy", edit: func(a *Actual) { a.Coder.Proxies[0].Status = "unregistered" }, status: "registered, coderd reports unregistered"},
		{name: "foreign proxy of the name", edit: func(a *Actual) { a.Secrets = a.Secrets[1:] },
			conflicts: []string{"exists in coderd (ID proxy-1) and no token secret of coderfleet names it", "--reissue-tokens"}},
		{name: "foreign proxy adopted", edit: func(a *Actual) { a.Secrets = a.Secrets[1:] }, pol: Policy{ReissueTokens: true},
			changes: []string{"update workspace-proxy us-west-2/us-west-2"}, fields: []string{"token-secret=demo/us-west-2/coder-proxy-token (us-west-2)", "token=(re-issued by coderd, stored only in the token secret)"}},
		{name: "interrupted create of a proxy", edit: func(a *Actual) {
			a.Secrets[0].CoderID, a.Secrets[0].HasValue = "", false
			delete(a.Secrets[0].Tags, TagCoderID)
		}, changes: []string{"update workspace-proxy us-west-2/us-west-2"}, fields: []string{"token=(re-issued by coderd, stored only in the token secret)"}},
		{name: "interrupted before the proxy was made", edit: func(a *Actual) {
			a.Secrets[0].CoderID, a.Secrets[0].HasValue = "", false
			delete(a.Secrets[0].Tags, TagCoderID)
			a.Coder.Proxies = nil
		}, changes: []string{"create workspace-proxy us-west-2/us-west-2"}},
		{name: "proxy deleted in coderd", edit: func(a *Actual) { a.Coder.Proxies = nil },
			changes: []string{"create workspace-proxy us-west-2/us-west-2"}},
		{name: "lost token", edit: func(a *Actual) { a.Secrets[1].HasValue = false },
			conflicts: []string{"blocked: its token secret demo/us-west-2/provisioner-key-coder-ws (us-west-2) has no current value", "--reissue-tokens"}},
		{name: "lost token re-issued", edit: func(a *Actual) { a.Secrets[1].HasValue = false }, pol: Policy{ReissueTokens: true},
			changes: []string{"update provisioner-key us-west-2/coder/us-west-2-coder-ws"}},
		{name: "key tags changed", edit: func(a *Actual) { a.Coder.Keys[0].Tags = map[string]string{"region": "us-east-2"} },
			changes: []string{"update provisioner-key us-west-2/coder/us-west-2-coder-ws"}, fields: []string{"tags=namespace=coder-ws,region=us-west-2"}},
		{name: "secret of another owner", edit: func(a *Actual) { a.Secrets[0].Owned, a.Secrets[0].Tags = false, nil },
			conflicts: []string{"is not this object's"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := coderDesired()
			a := convergedCoder(d)
			tc.edit(a)
			p := Compute(d, a, tc.pol)
			if got, want := strings.Join(changeLines(p), "\n"), strings.Join(tc.changes, "\n"); got != want {
				t.Errorf("changes:\n%s\nwant:\n%s", got, want)
			}
			if len(p.Conflicts) != min(len(tc.conflicts), 1) {
				t.Errorf("conflicts %+v, want %d", p.Conflicts, min(len(tc.conflicts), 1))
			}
			for _, want := range tc.conflicts {
				if len(p.Conflicts) == 0 || !strings.Contains(p.Conflicts[0].String(), want) {
					t.Errorf("conflicts %+v lack %q", p.Conflicts, want)
				}
			}
			for _, want := range tc.fields {
				name, val, _ := strings.Cut(want, "=")
				found := false
				for _, f := range p.Changes[0].Fields {
					found = found || f.Name == name && f.New == val
				}
				if !found {
					t.Errorf("first change lacks field %s: %+v", want, p.Changes[0].Fields)
				}
			}
			var text strings.Builder
			if err := WritePlan(&text, p, FormatText); err != nil {
				t.Fatal(err)
			}
			if tc.status != "" && !strings.Contains(text.String(), "Coder workspace proxies:\n  us-west-2/us-west-2: "+tc.status) {
				t.Errorf("plan lacks the proxy status %q:\n%s", tc.status, text.String())
			}
		})
	}
}

// TestPlanCoderPrune: the token secret of a proxy that left the desired
// state keeps it and the proxy without --prune; with it, both go, and
// the secrets.yaml planner never lists the token secret itself.
func TestPlanCoderPrune(t *testing.T) {
	d := coderDesired()
	a := convergedCoder(d)
	d.Regions[0].WorkspaceProxies = nil
	p := Compute(d, a, Policy{})
	if len(p.Changes) != 0 || p.Kept != 1 || !strings.Contains(strings.Join(p.Notes, "\n"), "workspace-proxy us-west-2/us-west-2 and its token secret demo/us-west-2/coder-proxy-token (us-west-2) are no longer in the desired state; kept (use --prune") {
		t.Fatalf("without --prune: changes %v, kept %d, notes %q", changeLines(p), p.Kept, p.Notes)
	}
	p = Compute(d, a, Policy{Prune: true})
	if got := strings.Join(changeLines(p), "\n"); got != "delete workspace-proxy us-west-2/us-west-2" {
		t.Fatalf("with --prune: %s", got)
	}
	if op := p.Changes[0].coder; op.curProxy == nil || op.curProxy.ID != "proxy-1" {
		t.Errorf("the delete does not name the owned proxy: %+v", op)
	}
	// A proxy of that name that is not the secret's is left alone.
	a.Coder.Proxies[0].ID = "someone-elses"
	p = Compute(d, a, Policy{Prune: true})
	if op := p.Changes[0].coder; op.curProxy != nil {
		t.Errorf("the delete would touch a proxy the secret does not name: %+v", op.curProxy)
	}
}

// TestPlanCoderSkipped: without coderd the plan says so and counts the
// desired objects, and plans nothing of Coder.
func TestPlanCoderSkipped(t *testing.T) {
	d := coderDesired()
	a := convergedCoder(d)
	a.Coder = nil
	a.Secrets = nil
	p := Compute(d, a, Policy{Prune: true})
	if p.Coder == nil || !p.Coder.Skipped || p.Coder.DesiredProxies != 1 || p.Coder.DesiredKeys != 1 || len(p.Changes) != 0 {
		t.Fatalf("coder %+v, changes %v", p.Coder, changeLines(p))
	}
}
