package scaffold

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/testfleet"
)

func TestRegionFileLoadsWithConfig(t *testing.T) {
	for _, spec := range []RegionSpec{
		{Name: "ap-south-1", AWSRegion: "ap-south-1", Role: config.RoleProxy, ClusterName: "demo-aps1", DisplayName: "Mumbai", Icon: DefaultIcon},
		{Name: "1234", AWSRegion: "eu-west-1", Role: config.RoleProxy, ClusterName: "c_1", DisplayName: `yes: "quoted" # not a comment`, Icon: "https://example.com/i.png"},
		{Name: "sao", AWSRegion: "sa-east-1", Role: config.RoleProxy, ClusterName: "demo-sao", DisplayName: "São Paulo", Icon: "null"},
	} {
		data, err := RegionFile(spec)
		if err != nil {
			t.Fatal(err)
		}
		files := testfleet.With(testfleet.Fleet(), map[string]string{"overlays/" + spec.Name + "/region.yaml": string(data)})
		fsys, repo := testfleet.MemFS(t, files)
		cfg, err := config.Load(fsys, repo, config.LoadOptions{})
		if err != nil {
			t.Fatalf("%s: config.Load refuses the generated file: %v\n%s", spec.Name, err, data)
		}
		got := cfg.Region(spec.Name)
		if got == nil {
			t.Fatalf("region %s not loaded", spec.Name)
		}
		r := got.Region
		if r.AWSRegion != spec.AWSRegion || r.Role != spec.Role || r.ClusterName != spec.ClusterName || r.DisplayName != spec.DisplayName || r.Icon != spec.Icon {
			t.Errorf("loaded %+v, want %+v", r, spec)
		}
		// Every key has a comment above it.
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			for _, key := range []string{"name:", "awsRegion:", "role:", "clusterName:", "displayName:", "icon:"} {
				if strings.HasPrefix(l, key) && (i == 0 || !strings.HasPrefix(lines[i-1], "# ")) {
					t.Errorf("%s has no comment above it:\n%s", key, data)
				}
			}
		}
	}
	// A primary replacing the fleet's only primary loads too.
	data, _ := RegionFile(RegionSpec{Name: "us-east-2", AWSRegion: "us-east-2", Role: config.RolePrimary, ClusterName: "x", DisplayName: "Ohio", Icon: DefaultIcon})
	fsys, repo := testfleet.MemFS(t, testfleet.With(testfleet.Fleet(), map[string]string{"overlays/us-east-2/region.yaml": string(data)}))
	if _, err := config.Load(fsys, repo, config.LoadOptions{}); err != nil {
		t.Fatalf("primary: %v\n%s", err, data)
	}
	if !strings.Contains(string(data), "# Region us-east-2: the primary") {
		t.Errorf("primary's header:\n%s", data)
	}
}

func TestAddRegionDefaults(t *testing.T) {
	fsys, repo := testfleet.MemFS(t, testfleet.Fleet())
	added, err := AddRegion(fsys, repo, RegionSpec{Name: "eu-west-2", AWSRegion: "eu-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	want := RegionSpec{Name: "eu-west-2", AWSRegion: "eu-west-2", Role: config.RoleProxy, ClusterName: "demo-eu-west-2", DisplayName: "London", Icon: DefaultIcon}
	if added.Spec != want || added.File != "overlays/eu-west-2/region.yaml" {
		t.Errorf("got %+v", added)
	}
	data, err := fsys.ReadFile(filepath.Join(repo, added.File))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "displayName: London\n") || !strings.Contains(string(data), "clusterName: demo-eu-west-2\n") {
		t.Errorf("written file:\n%s", data)
	}
	if _, err := config.Load(fsys, repo, config.LoadOptions{}); err != nil {
		t.Fatalf("fleet no longer loads: %v", err)
	}
}

func TestAddRegionRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec RegionSpec
		flag string
		want []string
	}{
		{"name exists", RegionSpec{Name: "us-west-2", AWSRegion: "us-west-2"}, "NAME",
			[]string{`region "us-west-2" already exists (overlays/us-west-2/region.yaml)`, "choose another name"}},
		{"name exists but for case", RegionSpec{Name: "US-West-2", AWSRegion: "us-west-2"}, "NAME",
			[]string{`region "US-West-2" already exists (overlays/us-west-2/region.yaml)`}},
		{"invalid name", RegionSpec{Name: "EU_West", AWSRegion: "eu-west-1"}, "NAME",
			[]string{`"EU_West" is not a valid region name`, `did you mean "eu-west"?`}},
		{"name render refuses", RegionSpec{Name: "llm", AWSRegion: "ap-south-1"}, "NAME",
			[]string{`region name "llm" is owned by coderfleet`, "such as us-west-2 or london"}},
		{"no suggestion of a refused name", RegionSpec{Name: "LLM", AWSRegion: "ap-south-1"}, "NAME",
			[]string{`"LLM" is not a valid region name (hint: region names become DNS labels`}},
		{"unknown AWS region", RegionSpec{Name: "london", AWSRegion: "eu-wset-2"}, "--aws-region",
			[]string{`unknown AWS region "eu-wset-2"`, "did you mean eu-west-2?"}},
		{"far-off AWS region", RegionSpec{Name: "moon", AWSRegion: "moon-base-alpha-9"}, "--aws-region",
			[]string{"use an AWS region code such as us-east-2"}},
		{"second primary", RegionSpec{Name: "eu-west-2", AWSRegion: "eu-west-2", Role: config.RolePrimary}, "--role",
			[]string{`region "us-east-2" is already the primary (overlays/us-east-2/region.yaml)`, "--role proxy"}},
		{"unknown role", RegionSpec{Name: "eu-west-2", AWSRegion: "eu-west-2", Role: "secondary"}, "--role",
			[]string{`unknown role "secondary"`}},
		{"cluster taken", RegionSpec{Name: "usw2b", AWSRegion: "us-west-2", ClusterName: "demo-usw2"}, "--cluster-name",
			[]string{`cluster "demo-usw2" in us-west-2 is already used by region "us-west-2"`}},
		{"bad cluster name", RegionSpec{Name: "x", AWSRegion: "us-west-2", ClusterName: "-bad"}, "--cluster-name",
			[]string{`"-bad" is not a valid EKS cluster name`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, repo := testfleet.MemFS(t, testfleet.Fleet())
			_, err := AddRegion(fsys, repo, tc.spec)
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("got %v (%T), want a *RequestError", err, err)
			}
			if re.Flag != tc.flag {
				t.Errorf("flag %q, want %q", re.Flag, tc.flag)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err.Error(), w)
				}
			}
			if tc.name != "name exists" && fsys.Exists(filepath.Join(repo, "overlays", tc.spec.Name)) {
				t.Error("a refused request wrote its folder")
			}
		})
	}
}

func TestAddRegionNeedsAReadableFleet(t *testing.T) {
	fsys, repo := testfleet.MemFS(t, testfleet.With(testfleet.Fleet(), map[string]string{"overlays/fleet.yaml": ""}))
	_, err := AddRegion(fsys, repo, RegionSpec{Name: "eu-west-2", AWSRegion: "eu-west-2"})
	if !config.IsInputError(err) || !strings.Contains(err.Error(), "overlays/fleet.yaml: cannot read the fleet file") {
		t.Fatalf("got %v", err)
	}
	fsys, repo = testfleet.MemFS(t, testfleet.With(testfleet.Fleet(), map[string]string{"overlays/us-west-2/region.yaml": "name: [\n"}))
	_, err = AddRegion(fsys, repo, RegionSpec{Name: "eu-west-2", AWSRegion: "eu-west-2"})
	if !config.IsInputError(err) || !strings.Contains(err.Error(), "overlays/us-west-2/region.yaml: not valid YAML") {
		t.Fatalf("got %v", err)
	}
}

func TestEveryAWSRegionHasAName(t *testing.T) {
	for _, r := range config.AWSRegions {
		if AWSRegionNames[r] == "" {
			t.Errorf("AWSRegionNames lacks %s", r)
		}
	}
	for r := range AWSRegionNames {
		if !config.IsAWSRegion(r) {
			t.Errorf("AWSRegionNames has %s, which config does not know", r)
		}
	}
}
