package reviewdiff

import (
	"fmt"
	"strings"
)

// Change says how something differs between base and head.
type Change string

// The kinds of change. Reordered is used only for fields: a list whose
// items (matched by name) are the same but in another order.
const (
	Added     Change = "added"
	Removed   Change = "removed"
	Changed   Change = "changed"
	Reordered Change = "reordered"
)

// Report is the difference between two renders of a fleet. Only regions
// with a difference appear, sorted by name.
type Report struct {
	Regions []Region `json:"regions"`
}

// Region is one region folder that differs.
type Region struct {
	// Name is the region's folder name under regions/.
	Name string `json:"name"`
	// Change is Added or Removed when the whole region is new or gone.
	Change Change `json:"change"`
	// Components are the component folders with object changes, sorted.
	Components []Component `json:"components,omitempty"`
	// AWS holds the changes to the region's AWS desired state (aws/).
	AWS []AWSItem `json:"aws,omitempty"`
	// Files are files that are not Kubernetes objects or AWS desired
	// state (the .coderfleet.yaml marker, unreadable files), sorted by path.
	Files []File `json:"files,omitempty"`
}

// Component is one component folder (coder, litellm, flux, ...) of a region.
type Component struct {
	// Name is the folder's name.
	Name string `json:"name"`
	// Change is Added or Removed when the folder is new or gone.
	Change Change `json:"change"`
	// Objects are the objects that differ, sorted by kind, namespace, name.
	Objects []Object `json:"objects"`
}

// Object is a Kubernetes object that was added, removed or changed.
type Object struct {
	Change Change `json:"change"`
	// APIVersion is the head's apiVersion (the base's for a removed object).
	APIVersion string `json:"apiVersion"`
	// Group is the API group, empty for the core group; with Kind,
	// Namespace and Name it identifies the object.
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Path is the file holding the object, relative to the region folder
	// (the head's, or the base's for a removed object).
	Path string `json:"path"`
	// Fields are the field-level differences of a changed object, in
	// document order. A changed object without fields differs only in
	// comments or formatting.
	Fields []Field `json:"fields,omitempty"`
}

// Display is how reports name the object: "Kind namespace/name", or
// "Kind (path)" for an object without a name such as a kustomization.yaml.
func (o Object) Display() string {
	switch {
	case o.Name == "":
		return fmt.Sprintf("%s (%s)", o.Kind, o.Path)
	case o.Namespace == "":
		return o.Kind + " " + o.Name
	default:
		return o.Kind + " " + o.Namespace + "/" + o.Name
	}
}

// Field is one difference inside an object or a desired-state item.
type Field struct {
	// Path locates the field: map keys joined by dots (keys with other
	// characters than letters, digits, '-' and '_' in ["..."]), list items
	// as [name] when matched by name, else [index] (the head's index, or
	// the base's for a removed item).
	Path   string `json:"path"`
	Change Change `json:"change"`
	// Old is the base value (absent for Added); New the head value
	// (absent for Removed). For Reordered both are the item names in order.
	Old any `json:"-"`
	New any `json:"-"`
}

// AWS item types.
const (
	TypeCertificate = "certificate"
	TypeHealthCheck = "healthCheck"
	TypeRecord      = "record"
	TypeRole        = "role"
	TypeSecret      = "secret"
	// TypeWorkspaceProxy is a Coder workspace proxy of
	// workspaceproxies.yaml; Key is its name.
	TypeWorkspaceProxy = "workspaceProxy"
	// TypeProvisionerKey is a Coder provisioner key of
	// provisionerkeys.yaml; Key is "<organization>/<name>", as sync names it.
	TypeProvisionerKey = "provisionerKey"
	// TypeFile is a change to a desired-state file's own keys (fleet,
	// region, hostedZone); Key is the file's path.
	TypeFile = "file"
)

// AWSItem is an item of the desired state under aws/ (a certificate,
// health check, record, IAM role, secret, workspace proxy or provisioner
// key) that was added, removed or changed.
type AWSItem struct {
	Change Change `json:"change"`
	// Type is TypeCertificate, TypeHealthCheck, TypeRecord, TypeRole,
	// TypeSecret, TypeWorkspaceProxy, TypeProvisionerKey or TypeFile.
	Type string `json:"type"`
	// Key identifies the item: a certificate's or health check's name, a
	// record's "name TYPE [setIdentifier]".
	Key string `json:"key"`
	// Detail is a short description: a certificate's domain, a health
	// check's probed name, a record's alias target.
	Detail string `json:"detail,omitempty"`
	// File is the desired-state file, relative to the region folder.
	File   string  `json:"file"`
	Fields []Field `json:"fields,omitempty"`
}

// File is a file compared as a whole: the region marker, or a file that
// is not a readable Kubernetes object or desired-state document.
type File struct {
	// Path is relative to the region folder.
	Path   string `json:"path"`
	Change Change `json:"change"`
	// Fields is the field-level difference when both sides are YAML.
	Fields []Field `json:"fields,omitempty"`
	// Text is a unified diff (base -> head) when they are not, or differ
	// only in comments.
	Text string `json:"text,omitempty"`
}

// Counts are numbers of added, removed and changed things.
type Counts struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Changed int `json:"changed"`
}

func (c *Counts) add(ch Change) {
	switch ch {
	case Added:
		c.Added++
	case Removed:
		c.Removed++
	default:
		c.Changed++
	}
}

// Total is the number of things counted.
func (c Counts) Total() int { return c.Added + c.Removed + c.Changed }

// Summary counts a report's differences.
type Summary struct {
	Regions Counts `json:"regions"`
	Objects Counts `json:"objects"`
	AWS     Counts `json:"aws"`
	Files   Counts `json:"files"`
	// Added, RemovedRegions and ChangedRegions name the regions.
	AddedRegions   []string `json:"addedRegions"`
	RemovedRegions []string `json:"removedRegions"`
	ChangedRegions []string `json:"changedRegions"`
}

// Empty reports whether base and head are the same.
func (r *Report) Empty() bool { return len(r.Regions) == 0 }

// Summary counts the report's differences.
func (r *Report) Summary() Summary {
	s := Summary{AddedRegions: []string{}, RemovedRegions: []string{}, ChangedRegions: []string{}}
	for _, reg := range r.Regions {
		s.Regions.add(reg.Change)
		switch reg.Change {
		case Added:
			s.AddedRegions = append(s.AddedRegions, reg.Name)
		case Removed:
			s.RemovedRegions = append(s.RemovedRegions, reg.Name)
		default:
			s.ChangedRegions = append(s.ChangedRegions, reg.Name)
		}
		rs := reg.summary()
		s.Objects.Added += rs.Objects.Added
		s.Objects.Removed += rs.Objects.Removed
		s.Objects.Changed += rs.Objects.Changed
		s.AWS.Added += rs.AWS.Added
		s.AWS.Removed += rs.AWS.Removed
		s.AWS.Changed += rs.AWS.Changed
		s.Files.Added += rs.Files.Added
		s.Files.Removed += rs.Files.Removed
		s.Files.Changed += rs.Files.Changed
	}
	return s
}

// String is the one-line summary, e.g. "2 regions differ (added:
// eu-west-2; changed: us-east-2); objects: 25 added, 1 changed; AWS
// desired state: 4 added".
func (s Summary) String() string {
	if s.Regions.Total() == 0 {
		return "no differences"
	}
	var groups []string
	if len(s.AddedRegions) > 0 {
		groups = append(groups, "added: "+strings.Join(s.AddedRegions, ", "))
	}
	if len(s.RemovedRegions) > 0 {
		groups = append(groups, "removed: "+strings.Join(s.RemovedRegions, ", "))
	}
	if len(s.ChangedRegions) > 0 {
		groups = append(groups, "changed: "+strings.Join(s.ChangedRegions, ", "))
	}
	parts := []string{fmt.Sprintf("%s %s (%s)", plural(s.Regions.Total(), "region"),
		map[bool]string{true: "differs", false: "differ"}[s.Regions.Total() == 1], strings.Join(groups, "; "))}
	for _, c := range []struct {
		label string
		n     Counts
	}{{"objects", s.Objects}, {"AWS desired state", s.AWS}, {"files", s.Files}} {
		if t := c.n.String(); t != "" {
			parts = append(parts, c.label+": "+t)
		}
	}
	return strings.Join(parts, "; ")
}

// String lists the non-zero counts, e.g. "3 added, 1 changed".
func (c Counts) String() string {
	var out []string
	if c.Added > 0 {
		out = append(out, fmt.Sprintf("%d added", c.Added))
	}
	if c.Removed > 0 {
		out = append(out, fmt.Sprintf("%d removed", c.Removed))
	}
	if c.Changed > 0 {
		out = append(out, fmt.Sprintf("%d changed", c.Changed))
	}
	return strings.Join(out, ", ")
}

func (r Region) summary() Summary {
	var s Summary
	for _, c := range r.Components {
		for _, o := range c.Objects {
			s.Objects.add(o.Change)
		}
	}
	for _, a := range r.AWS {
		s.AWS.add(a.Change)
	}
	for _, f := range r.Files {
		s.Files.add(f.Change)
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
