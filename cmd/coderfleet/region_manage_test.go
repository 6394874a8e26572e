package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegionList(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	repo := exampleCopy(t)
	if err := os.Remove(filepath.Join(repo, "overlays/us-west-2/outputs.yaml")); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, "region", "list", "--repo", repo)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	// A fresh copy: the folders exist, but no render on this machine vouches for them.
	for _, want := range []string{
		"NAME       ROLE     AWS REGION  CLUSTER         RENDERED  SYNCED",
		"us-east-2  primary  us-east-2   coderdemo-use2  present   yes",
		"us-west-2  proxy    us-west-2   coderdemo-usw2  present   no",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, out, errs := cli(t, "render", "--repo", repo); code != exitOK {
		t.Fatalf("render: exit %d\n%s%s", code, out, errs)
	}
	if err := os.RemoveAll(filepath.Join(repo, "regions/eu-west-2")); err != nil {
		t.Fatal(err)
	}
	code, out, errs = cli(t, "region", "list", "--repo", repo, "-o", "json")
	if code != exitOK {
		t.Fatalf("json: exit %d\n%s%s", code, out, errs)
	}
	var got struct {
		SchemaVersion string      `json:"schemaVersion"`
		Regions       []regionRow `json:"regions"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.SchemaVersion != "coderfleet.io/region-list/v1" || len(got.Regions) != 3 {
		t.Fatalf("got %+v", got)
	}
	want := map[string]string{"eu-west-2": "no", "us-east-2": "current", "us-west-2": "current"}
	for _, r := range got.Regions {
		if r.Rendered != want[r.Name] || r.Synced != (r.Name != "us-west-2") || r.Cluster == "" {
			t.Errorf("region %+v: want rendered %q", r, want[r.Name])
		}
	}
	if code, _, errs := cli(t, "region", "list", "--repo", repo, "-o", "yaml"); code != exitUsage || !strings.Contains(errs, `unknown --output "yaml": use text or json`) {
		t.Errorf("-o yaml: exit %d\n%s", code, errs)
	}
}

func TestRegionRemove(t *testing.T) {
	t.Parallel() // shares nothing: no Setenv, no Chdir, no package variable, its own temporary repository
	repo := exampleCopy(t)
	code, out, errs := cli(t, "region", "remove", "eu-west-2", "--repo", repo)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(repo, "overlays/eu-west-2")); !os.IsNotExist(err) {
		t.Errorf("overlays/eu-west-2 still there (%v)", err)
	}
	// The steps in decommissioning order.
	last := -1
	for _, want := range []string{"removed overlays/eu-west-2/", "coderfleet render", "commit the removal", "in cluster coderdemo-euw2, delete the Flux Kustomization", "Do this before pruning AWS", "coderfleet sync plan --prune", "coderfleet sync apply --prune"} {
		i := strings.Index(out, want)
		if i <= last {
			t.Errorf("output lacks %q after the previous step:\n%s", want, out)
		}
		last = i
	}
	// What the steps say happens: render deletes the region's folder, check passes.
	if code, out, errs := cli(t, "render", "--repo", repo); code != exitOK || !strings.Contains(out, "removed:   eu-west-2") {
		t.Fatalf("render: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(t, "check", "--repo", repo); code != exitOK {
		t.Fatalf("check: exit %d\n%s%s", code, out, errs)
	}
}

func TestRegionRemoveRefusals(t *testing.T) {
	repo := exampleCopy(t)
	ref := filepath.Join(repo, "overlays/us-west-2/note.yaml")
	if err := os.WriteFile(ref, []byte("notes:\n  failover: eu-west-2.coder.example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		code int
		want string
	}{
		{"us-east-2", exitInput, `overlays/us-east-2/region.yaml:6: key "role": region "us-east-2" is the fleet's primary`},
		{"eu-west-2", exitInput, `overlays/us-west-2/note.yaml:2: key "notes.failover": refers to region "eu-west-2", which region remove would delete (hint: remove or change this reference first`},
		{"eu-west3", exitUsage, `no region "eu-west3": there is no folder overlays/eu-west3 (regions of this fleet: eu-west-2, us-east-2, us-west-2) (hint: did you mean "eu-west-2"?)`},
	} {
		code, out, errs := cli(t, "region", "remove", tc.name, "--repo", repo)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("remove %s: exit %d, want %d with %q\n%s%s", tc.name, code, tc.code, tc.want, out, errs)
		}
		if _, err := os.Stat(filepath.Join(repo, "overlays", tc.name)); tc.name != "eu-west3" && err != nil {
			t.Errorf("remove %s removed the folder though refused", tc.name)
		}
	}
	if code, _, errs := cli(t, "region", "remove", "--repo", repo); code != exitUsage {
		t.Errorf("no NAME: exit %d\n%s", code, errs)
	}
}
