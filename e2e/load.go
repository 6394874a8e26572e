package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// AWSFolder is the per-region folder of AWS desired state; it holds no
// Kubernetes objects and is never sent to the API server.
const AWSFolder = "aws"

// Object is one Kubernetes object read from a rendered regions tree.
type Object struct {
	// Tree names the regions tree it came from, e.g. "regions" or
	// "golden/basic/regions".
	Tree string
	// Region is the region folder, e.g. "us-east-1".
	Region string
	// Component is the component folder, e.g. "coder" or "flux".
	Component string
	// File is the object's file relative to the tree, slash-separated.
	File string
	// Doc is the 1-based YAML document index inside File.
	Doc int
	// Object is the decoded object.
	Object *unstructured.Unstructured
	// DefaultNamespace is the namespace of the folder's kustomization.yaml;
	// it is used, as kustomize would, when the kind is namespaced and the
	// object names no namespace.
	DefaultNamespace string
}

// RegionKey is the tree and region, the unit results are counted by.
func (o Object) RegionKey() string { return o.Tree + "/" + o.Region }

// Ref names the object the way a reviewer looks for it: kind and
// namespace/name.
func (o Object) Ref() string {
	name := o.Object.GetName()
	if ns := o.Object.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return o.Object.GetKind() + " " + name
}

// String locates the object: region, component, object and file.
func (o Object) String() string {
	loc := o.Tree + "/" + o.File
	if o.Doc > 1 {
		loc += fmt.Sprintf(" (document %d)", o.Doc)
	}
	return fmt.Sprintf("region %q, component %q, %s (%s)", o.Region, o.Component, o.Ref(), loc)
}

// LoadTree reads every Kubernetes object of a rendered regions tree. fsys is
// rooted at the tree (the folder holding one folder per region); tree is the
// label used in results. Objects are the YAML files under
// <region>/<component>/ except kustomization.yaml, the aws/ folder and names
// starting with "."; files directly in a region folder are not objects. A
// namespaced kind without metadata.namespace takes the namespace of its
// folder's kustomization.yaml, as kustomize would. Objects come back sorted by
// file, so results are in a stable order.
func LoadTree(fsys fs.FS, tree string) ([]Object, error) {
	regions, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading regions tree %q: %w", tree, err)
	}
	var objs []Object
	for _, r := range regions {
		if !r.IsDir() || hidden(r.Name()) {
			continue
		}
		components, err := fs.ReadDir(fsys, r.Name())
		if err != nil {
			return nil, fmt.Errorf("reading region %q: %w", tree+"/"+r.Name(), err)
		}
		for _, c := range components {
			if !c.IsDir() || hidden(c.Name()) || c.Name() == AWSFolder {
				continue
			}
			dir := path.Join(r.Name(), c.Name())
			found, err := loadComponent(fsys, tree, r.Name(), c.Name(), dir)
			if err != nil {
				return nil, err
			}
			objs = append(objs, found...)
		}
	}
	sort.SliceStable(objs, func(i, j int) bool {
		if objs[i].File != objs[j].File {
			return objs[i].File < objs[j].File
		}
		return objs[i].Doc < objs[j].Doc
	})
	return objs, nil
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

func isKustomization(name string) bool {
	switch name {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

func loadComponent(fsys fs.FS, tree, region, component, dir string) ([]Object, error) {
	var objs []Object
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %q: %w", tree+"/"+p, err)
		}
		if p != dir && hidden(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || isKustomization(d.Name()) {
			return nil
		}
		if ext := path.Ext(d.Name()); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("reading %q: %w", tree+"/"+p, err)
		}
		docs, err := DecodeObjects(data)
		if err != nil {
			return fmt.Errorf("reading %q: %w", tree+"/"+p, err)
		}
		defaultNS, err := kustomizationNamespace(fsys, path.Dir(p))
		if err != nil {
			return fmt.Errorf("reading %q: %w", tree+"/"+path.Join(path.Dir(p), "kustomization.yaml"), err)
		}
		for i, u := range docs {
			if u == nil {
				continue
			}
			objs = append(objs, Object{Tree: tree, Region: region, Component: component, File: p, Doc: i + 1, Object: u, DefaultNamespace: defaultNS})
		}
		return nil
	})
	return objs, err
}

func kustomizationNamespace(fsys fs.FS, dir string) (string, error) {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		data, err := fs.ReadFile(fsys, path.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		var k struct {
			Namespace string `json:"namespace"`
		}
		if err := yaml.Unmarshal(data, &k); err != nil {
			return "", err
		}
		return k.Namespace, nil
	}
	return "", nil
}

// DecodeObjects splits a YAML stream into objects. An empty or comment-only
// document gives a nil entry so document numbers stay right; a document
// without apiVersion or kind is an error naming the document.
func DecodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if t := bytes.TrimSpace(js); len(t) == 0 || bytes.Equal(t, []byte("null")) {
			out = append(out, nil)
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("document %d: %w; hint: every document needs apiVersion and kind", n, err)
		}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("document %d: apiVersion or kind is missing; every object needs both", n)
		}
		if u.GetName() == "" && u.GetGenerateName() == "" {
			return nil, fmt.Errorf("document %d: %s has no metadata.name", n, u.GetKind())
		}
		out = append(out, u)
	}
}
