package charts

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/coderfleet/coderfleet/internal/diag"
)

// Paths of the chart files, relative to the templates directory.
const (
	// Dir is the folder, inside the templates directory, that holds the
	// chart list, the lock and the vendored charts.
	Dir = "charts"
	// ConfigFile is the name of the chart list inside Dir.
	ConfigFile = "charts.yaml"
	// LockFile is the name of the lock inside Dir; vendor writes it.
	LockFile = "charts.lock"
)

// Delivery says how a chart reaches the cluster.
type Delivery string

const (
	// DeliveryRender commits the chart's rendered manifests like any other
	// component, so reviews see every change. It is the default.
	DeliveryRender Delivery = "render"
	// DeliveryHelmRelease commits a Flux HelmRelease plus its source; the
	// locally rendered manifests go to a review-only file Flux never applies.
	DeliveryHelmRelease Delivery = "helmrelease"
)

// Chart is one entry of charts.yaml.
type Chart struct {
	// Name is the chart's name in its repository and the folder it is
	// vendored into.
	Name string
	// Repository is an https:// chart repository (with an index.yaml) or an
	// oci:// registry path; the chart is pulled from <repository>/<name>.
	Repository string
	// Version is the exact version to vendor, as the repository spells it
	// (for example 1.13.2 or v1.18.2).
	Version string
	// Delivery is how the chart reaches the cluster.
	Delivery Delivery
	// Line is the line of the entry in charts.yaml, for error messages.
	Line int
}

// IsOCI reports whether the chart comes from an OCI registry.
func (c Chart) IsOCI() bool { return strings.HasPrefix(c.Repository, "oci://") }

// Config is the parsed charts.yaml.
type Config struct {
	// Charts are the listed charts, in file order.
	Charts []Chart
}

// Lookup returns the chart named name.
func (c *Config) Lookup(name string) (Chart, bool) {
	for _, ch := range c.Charts {
		if ch.Name == name {
			return ch, true
		}
	}
	return Chart{}, false
}

// ConfigError is an invalid charts.yaml or charts.lock: the user must fix
// the file. Line is 0 when the problem concerns the whole file. It prints
// as "path:line: message".
type ConfigError = diag.Error

// chartNameRE is what Helm accepts as a chart name, and also keeps the name
// safe as a folder name.
var chartNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$`)

// ConfigPath returns the path of charts.yaml under templatesDir.
func ConfigPath(templatesDir string) string {
	return path.Join(templatesDir, Dir, ConfigFile)
}

// LockPath returns the path of charts.lock under templatesDir.
func LockPath(templatesDir string) string {
	return path.Join(templatesDir, Dir, LockFile)
}

// LoadConfig reads templates/charts/charts.yaml from fsys. A missing file is
// an empty list: a fleet without vendored charts needs no chart files.
func LoadConfig(fsys filesys.FileSystem, templatesDir string) (*Config, error) {
	p := ConfigPath(templatesDir)
	if !fsys.Exists(p) {
		return &Config{}, nil
	}
	data, err := fsys.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading chart list: %w", err)
	}
	return ParseConfig(p, data)
}

// ParseConfig parses the content of a charts.yaml; path names the file in
// errors. Unknown keys, missing values, duplicate names, version ranges and
// unsupported repository schemes are errors with the file's line.
func ParseConfig(path string, data []byte) (*Config, error) {
	cfg := &Config{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ConfigError{File: path, Line: yamlErrorLine(err), Msg: "invalid YAML: " + yamlErrorText(err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return cfg, nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &ConfigError{File: path, Line: root.Line, Msg: "expected a mapping with the key \"charts\""}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "charts" {
			return nil, &ConfigError{File: path, Line: k.Line, Msg: fmt.Sprintf("unknown key %q (the only key is \"charts\")", k.Value)}
		}
		if v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.SequenceNode {
			return nil, &ConfigError{File: path, Line: v.Line, Msg: "\"charts\" must be a list"}
		}
		for _, item := range v.Content {
			ch, err := parseChartEntry(path, item)
			if err != nil {
				return nil, err
			}
			if prev, dup := seen[ch.Name]; dup {
				return nil, &ConfigError{File: path, Line: ch.Line, Msg: fmt.Sprintf("chart %q is listed twice (first at line %d); a chart is vendored at one version", ch.Name, prev)}
			}
			seen[ch.Name] = ch.Line
			cfg.Charts = append(cfg.Charts, ch)
		}
	}
	return cfg, nil
}

func parseChartEntry(path string, n *yaml.Node) (Chart, error) {
	ch := Chart{Line: n.Line, Delivery: DeliveryRender}
	if n.Kind != yaml.MappingNode {
		return ch, &ConfigError{File: path, Line: n.Line, Msg: "a chart entry must be a mapping with name, repository and version"}
	}
	fields := map[string]*string{
		"name":       &ch.Name,
		"repository": &ch.Repository,
		"version":    &ch.Version,
		"delivery":   (*string)(&ch.Delivery),
	}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		dst, ok := fields[k.Value]
		if !ok {
			return ch, &ConfigError{File: path, Line: k.Line, Msg: fmt.Sprintf("unknown key %q in a chart entry (known: name, repository, version, delivery)", k.Value)}
		}
		if _, dup := lines[k.Value]; dup {
			return ch, &ConfigError{File: path, Line: k.Line, Msg: fmt.Sprintf("key %q is set twice", k.Value)}
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return ch, &ConfigError{File: path, Line: v.Line, Msg: fmt.Sprintf("%q must be a string", k.Value)}
		}
		*dst = v.Value
		lines[k.Value] = v.Line
	}
	for _, req := range []string{"name", "repository", "version"} {
		if _, ok := lines[req]; !ok {
			return ch, &ConfigError{File: path, Line: n.Line, Msg: fmt.Sprintf("chart entry lacks %q", req)}
		}
	}
	if !chartNameRE.MatchString(ch.Name) {
		return ch, &ConfigError{File: path, Line: lines["name"], Msg: fmt.Sprintf("chart name %q is not valid: use lower-case letters, digits, '-', '_' and '.'", ch.Name)}
	}
	if err := checkRepository(ch.Repository); err != nil {
		return ch, &ConfigError{File: path, Line: lines["repository"], Msg: fmt.Sprintf("chart %q", ch.Name), Err: err}
	}
	if err := CheckExactVersion(ch.Version); err != nil {
		return ch, &ConfigError{File: path, Line: lines["version"], Msg: fmt.Sprintf("chart %q", ch.Name), Err: err}
	}
	switch ch.Delivery {
	case DeliveryRender, DeliveryHelmRelease:
	default:
		return ch, &ConfigError{File: path, Line: lines["delivery"], Msg: fmt.Sprintf("chart %q: delivery %q is not one of %q, %q", ch.Name, ch.Delivery, DeliveryRender, DeliveryHelmRelease)}
	}
	return ch, nil
}

func checkRepository(repo string) error {
	u, err := url.Parse(repo)
	if err != nil {
		return fmt.Errorf("repository %q is not a URL: %w", repo, err)
	}
	switch u.Scheme {
	case "https", "http", "oci":
	default:
		return fmt.Errorf("repository %q must start with https:// (a chart repository) or oci:// (a registry)", repo)
	}
	if u.Host == "" {
		return fmt.Errorf("repository %q has no host", repo)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("repository %q must not carry a query, fragment or credentials", repo)
	}
	return nil
}

// CheckExactVersion returns an error unless v is one exact semantic version
// (MAJOR.MINOR.PATCH, optionally with a "v" prefix, a pre-release and build
// metadata). Ranges such as "^1.2", ">=1" or "1.x" and partial versions such
// as "1.2" are refused: a render must not depend on what a repository
// happens to serve today.
func CheckExactVersion(v string) error {
	if v == "" {
		return errors.New("version is empty: write an exact version such as 1.2.3")
	}
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(v, "v")); err == nil {
		return nil
	}
	if _, err := semver.NewConstraint(v); err == nil {
		if _, err := semver.NewVersion(v); err != nil || strings.ContainsAny(v, "^~<>=*xX|, ") {
			return fmt.Errorf("version %q is a range; versions must be exact, such as 1.2.3", v)
		}
	}
	return fmt.Errorf("version %q is not an exact semantic version: write MAJOR.MINOR.PATCH, such as 1.2.3", v)
}

// yamlErrorLine digs the line out of a yaml.v3 error ("yaml: line 3: ...").
func yamlErrorLine(err error) int {
	var line int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &line)
	}
	return line
}

func yamlErrorText(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if i := strings.Index(msg, ": "); strings.HasPrefix(msg, "line ") && i >= 0 {
		return msg[i+2:]
	}
	return msg
}
