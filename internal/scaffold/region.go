package scaffold

import (
	"bytes"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/config"
)

// DefaultIcon is the icon a region gets when none is given (the same
// default config applies to a region.yaml without one).
const DefaultIcon = "/emojis/1f310.png"

// RegionSpec is a new region as `coderfleet region add` asks for it.
// Empty optional fields take defaults in AddRegion.
type RegionSpec struct {
	// Name is the folder name under overlays/ and regions/, a DNS label.
	Name string
	// AWSRegion is the AWS region code of the region's cluster.
	AWSRegion string
	// Role is config.RoleProxy (default) or config.RolePrimary.
	Role string
	// DisplayName is the proxy's name in Coder's region picker (default:
	// the AWS region's location, e.g. "Oregon").
	DisplayName string
	// ClusterName is the EKS cluster's name (default: <fleet>-<name>).
	ClusterName string
	// Icon is the proxy's icon (default DefaultIcon).
	Icon string
}

// RequestError is a request that cannot be carried out as asked: an
// invalid name, an unknown AWS region, a name that is taken, a second
// primary. The user changes the command line, not a file.
type RequestError struct {
	// Flag is the flag or argument at fault, e.g. "--aws-region" or "NAME".
	Flag string
	Msg  string
	Hint string
}

// Error formats the problem with its hint.
func (e *RequestError) Error() string {
	s := e.Flag + ": " + e.Msg
	if e.Hint != "" {
		s += " (hint: " + e.Hint + ")"
	}
	return s
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// clusterNameRE is what config accepts as an EKS cluster name.
var clusterNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,99}$`)

// AWSRegionNames are the locations of the AWS regions as the AWS console
// names them, used as default display names.
var AWSRegionNames = map[string]string{
	"af-south-1": "Cape Town", "ap-east-1": "Hong Kong", "ap-east-2": "Taipei",
	"ap-northeast-1": "Tokyo", "ap-northeast-2": "Seoul", "ap-northeast-3": "Osaka",
	"ap-south-1": "Mumbai", "ap-south-2": "Hyderabad", "ap-southeast-1": "Singapore",
	"ap-southeast-2": "Sydney", "ap-southeast-3": "Jakarta", "ap-southeast-4": "Melbourne",
	"ap-southeast-5": "Malaysia", "ap-southeast-6": "New Zealand", "ap-southeast-7": "Thailand",
	"ca-central-1": "Canada Central", "ca-west-1": "Calgary", "eu-central-1": "Frankfurt",
	"eu-central-2": "Zurich", "eu-north-1": "Stockholm", "eu-south-1": "Milan",
	"eu-south-2": "Spain", "eu-west-1": "Ireland", "eu-west-2": "London", "eu-west-3": "Paris",
	"il-central-1": "Tel Aviv", "me-central-1": "UAE", "me-south-1": "Bahrain", "me-west-1": "Saudi Arabia",
	"mx-central-1": "Mexico Central", "sa-east-1": "São Paulo", "sa-west-1": "Chile", "us-east-1": "N. Virginia",
	"us-east-2": "Ohio", "us-gov-east-1": "GovCloud US-East", "us-gov-west-1": "GovCloud US-West",
	"us-west-1": "N. California", "us-west-2": "Oregon",
}

// RegionFile renders overlays/<name>/region.yaml for spec, with a comment
// above each key. It does not check the values (AddRegion does).
func RegionFile(spec RegionSpec) ([]byte, error) {
	roleDoc := "primary runs coderd, the database and LiteLLM (exactly one region);\nproxy runs a Coder workspace proxy at <name>.<domain> and *.<name>.<domain>."
	keys := []struct{ key, value, comment string }{
		{"apiVersion", config.APIVersion, ""},
		{"kind", "Region", ""},
		{"name", spec.Name, "Equal to this folder's name. It becomes <name>.<domain> and names the\nfolder regions/<name>/ that Flux applies."},
		{"awsRegion", spec.AWSRegion, "The AWS region code of the cluster; its ACM certificates and load\nbalancers live there too."},
		{"role", spec.Role, roleDoc},
		{"clusterName", spec.ClusterName, "The EKS cluster's name (the load balancer controller tags its NLBs\nwith elbv2.k8s.aws/cluster=<clusterName>; IRSA role ARNs may use {cluster})."},
		{"displayName", spec.DisplayName, "The name shown in Coder's region picker."},
		{"icon", spec.Icon, "The icon shown next to it: a path served by coderd (/emojis/...) or a URL."},
	}
	doc := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range keys {
		kn := &yaml.Node{Kind: yaml.ScalarNode, Value: k.key, HeadComment: comment(k.comment)}
		vn := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k.value} // quoted where YAML would read another type
		doc.Content = append(doc.Content, kn, vn)
	}
	doc.HeadComment = comment(fmt.Sprintf("Region %s: %s.\nWritten by `coderfleet region add`; every key is described in overlays/README.md.", spec.Name, roleSummary(spec.Role)))
	doc.FootComment = comment("Optional: fleet settings changed for this region only (lists replace, maps\nmerge), and vpcID (the cluster's VPC, for the load balancer controller):\n\noverrides:\n  proxy:\n    replicas: 3\n  workspaceNamespaces: []\nvpcID: vpc-0123456789abcdef0")
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}}); err != nil {
		return nil, fmt.Errorf("encoding region.yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding region.yaml: %w", err)
	}
	return b.Bytes(), nil
}

func roleSummary(role string) string {
	if role == config.RolePrimary {
		return "the primary (coderd, its database, LiteLLM)"
	}
	return "a workspace proxy"
}

// comment turns lines into a YAML comment (empty lines stay bare "#").
func comment(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = "#"
		} else {
			lines[i] = "# " + l
		}
	}
	return strings.Join(lines, "\n")
}

// Added is what AddRegion wrote.
type Added struct {
	// File is the written file, relative to the repository.
	File string
	// Spec is the region with defaults filled in.
	Spec RegionSpec
}

// existingRegion is what AddRegion needs to know of a region already there.
type existingRegion struct {
	Name        string `yaml:"name"`
	AWSRegion   string `yaml:"awsRegion"`
	Role        string `yaml:"role"`
	ClusterName string `yaml:"clusterName"`
	folder      string
}

// AddRegion checks spec against the fleet at repo (inside fsys), fills in
// defaults and writes overlays/<name>/region.yaml. A request that cannot
// be carried out is a *RequestError; an unreadable fleet file or
// region.yaml is a *config.Error. Nothing is written when it fails.
func AddRegion(fsys filesys.FileSystem, repo string, spec RegionSpec) (*Added, error) {
	if spec.Role == "" {
		spec.Role = config.RoleProxy
	}
	fleetName, err := readFleetName(fsys, repo)
	if err != nil {
		return nil, err
	}
	existing, err := readRegions(fsys, repo)
	if err != nil {
		return nil, err
	}
	for _, r := range existing {
		// EU-West-2 is not a valid name, but the region it means exists:
		// say that rather than suggest it.
		if strings.EqualFold(r.folder, spec.Name) || strings.EqualFold(r.Name, spec.Name) {
			return nil, &RequestError{Flag: "NAME", Msg: fmt.Sprintf("region %q already exists (%s)", spec.Name, path.Join(config.OverlaysDir, r.folder, config.RegionFile)),
				Hint: "choose another name, or edit that region.yaml to change the region"}
		}
	}
	if err := checkRequest(spec); err != nil {
		return nil, err
	}
	if spec.ClusterName == "" {
		spec.ClusterName = fleetName + "-" + spec.Name
	}
	if spec.DisplayName == "" {
		spec.DisplayName = AWSRegionNames[spec.AWSRegion]
		if spec.DisplayName == "" {
			spec.DisplayName = spec.Name
		}
	}
	if spec.Icon == "" {
		spec.Icon = DefaultIcon
	}
	for _, r := range existing {
		if spec.Role == config.RolePrimary && r.Role == config.RolePrimary {
			return nil, &RequestError{Flag: "--role", Msg: fmt.Sprintf("region %q is already the primary (%s)", r.Name, path.Join(config.OverlaysDir, r.folder, config.RegionFile)),
				Hint: "a fleet has exactly one primary; add this region with --role proxy"}
		}
		if r.AWSRegion == spec.AWSRegion && r.ClusterName == spec.ClusterName {
			return nil, &RequestError{Flag: "--cluster-name", Msg: fmt.Sprintf("cluster %q in %s is already used by region %q", spec.ClusterName, spec.AWSRegion, r.Name),
				Hint: "each region deploys to a cluster of its own; pass the name of its own cluster with --cluster-name"}
		}
	}
	data, err := RegionFile(spec)
	if err != nil {
		return nil, err
	}
	rel := path.Join(config.OverlaysDir, spec.Name, config.RegionFile)
	dir := filepath.Join(repo, config.OverlaysDir, spec.Name)
	if err := fsys.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("creating %q: %w", dir, err)
	}
	if err := fsys.WriteFile(filepath.Join(dir, config.RegionFile), data); err != nil {
		return nil, fmt.Errorf("writing %q: %w", rel, err)
	}
	return &Added{File: rel, Spec: spec}, nil
}

// ownedRegionName is the region name the example templates own (the label
// of LiteLLM's llm.<domain>; templates/main.jsonnet, owned "region.name"),
// refused here early; render refuses whatever the templates own.
const ownedRegionName = "llm"

// checkRequest checks what needs no repository.
func checkRequest(spec RegionSpec) error {
	if !dnsLabel.MatchString(spec.Name) {
		hint := "region names become DNS labels (<name>.<domain>): lower-case letters, digits and '-', at most 63, e.g. eu-west-2"
		if s := strings.ToLower(strings.ReplaceAll(spec.Name, "_", "-")); dnsLabel.MatchString(s) && s != ownedRegionName {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
		return &RequestError{Flag: "NAME", Msg: fmt.Sprintf("%q is not a valid region name", spec.Name), Hint: hint}
	}
	// render refuses this name (the templates own it: main.jsonnet's
	// owned "region.name"): refuse it before writing a region.yaml that
	// the next render would reject.
	if spec.Name == ownedRegionName {
		return &RequestError{Flag: "NAME", Msg: fmt.Sprintf("region name %q is owned by coderfleet: it is the label of LiteLLM's name %s.<domain>, and a region's name is the label of its own records", spec.Name, ownedRegionName),
			Hint: "call the region after its place or AWS region, such as us-west-2 or london"}
	}
	if !config.IsAWSRegion(spec.AWSRegion) {
		return &RequestError{Flag: "--aws-region", Msg: fmt.Sprintf("unknown AWS region %q", spec.AWSRegion), Hint: nearestRegion(spec.AWSRegion)}
	}
	if spec.Role != config.RolePrimary && spec.Role != config.RoleProxy {
		return &RequestError{Flag: "--role", Msg: fmt.Sprintf("unknown role %q", spec.Role), Hint: "use proxy (a workspace proxy) or primary (coderd, once per fleet)"}
	}
	if spec.ClusterName != "" && !clusterNameRE.MatchString(spec.ClusterName) {
		return &RequestError{Flag: "--cluster-name", Msg: fmt.Sprintf("%q is not a valid EKS cluster name", spec.ClusterName),
			Hint: "a letter, then letters, digits, '-' and '_', at most 100"}
	}
	for flag, v := range map[string]string{"--display-name": spec.DisplayName, "--icon": spec.Icon} {
		if strings.ContainsAny(v, "\n\r") {
			return &RequestError{Flag: flag, Msg: "must be one line"}
		}
	}
	return nil
}

// nearestRegion suggests the known AWS region codes closest to code.
func nearestRegion(code string) string {
	best, bestDist := []string(nil), len(code)/2+2
	for _, r := range config.AWSRegions {
		d := levenshtein.ComputeDistance(strings.ToLower(code), r)
		switch {
		case d < bestDist:
			best, bestDist = []string{r}, d
		case d == bestDist:
			best = append(best, r)
		}
	}
	if len(best) == 0 {
		return "use an AWS region code such as us-east-2 or eu-west-2"
	}
	sort.Strings(best)
	if len(best) == 1 {
		return "did you mean " + best[0] + "?"
	}
	return "did you mean " + strings.Join(best[:len(best)-1], ", ") + " or " + best[len(best)-1] + "?"
}

// readFleetName reads the fleet's name from overlays/fleet.yaml.
func readFleetName(fsys filesys.FileSystem, repo string) (string, error) {
	data, err := fsys.ReadFile(filepath.Join(repo, config.FleetFile))
	if config.IsInputError(err) {
		return "", err // refused by the repository's filesystem, naming why
	}
	if err != nil {
		return "", &config.Error{File: config.FleetFile, Msg: "cannot read the fleet file",
			Hint: "run coderfleet from the fleet repository's root or pass --repo; a region is added to an existing fleet"}
	}
	var f struct {
		Name string `yaml:"name"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return "", &config.Error{File: config.FleetFile, Msg: "not valid YAML", Err: err, Hint: "fix the file, then add the region"}
	}
	if f.Name == "" {
		return "", &config.Error{File: config.FleetFile, Key: "name", Msg: "the fleet has no name", Hint: "set name: <fleet> (a DNS label)"}
	}
	return f.Name, nil
}

// readRegions reads the regions already under overlays/.
func readRegions(fsys filesys.FileSystem, repo string) ([]existingRegion, error) {
	dir := filepath.Join(repo, config.OverlaysDir)
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", config.OverlaysDir, err)
	}
	sort.Strings(entries)
	var out []existingRegion
	for _, e := range entries {
		if strings.HasPrefix(e, ".") || strings.HasPrefix(e, "_") || !fsys.IsDir(filepath.Join(dir, e)) {
			continue
		}
		r := existingRegion{folder: e, Name: e}
		file := path.Join(config.OverlaysDir, e, config.RegionFile)
		data, err := fsys.ReadFile(filepath.Join(dir, e, config.RegionFile))
		if config.IsInputError(err) {
			return nil, err // refused by the repository's filesystem, naming why
		}
		if err == nil {
			if err := yaml.Unmarshal(data, &r); err != nil {
				return nil, &config.Error{File: file, Msg: "not valid YAML", Err: err, Hint: "fix the file, then add the region"}
			}
		}
		out = append(out, r)
	}
	return out, nil
}
