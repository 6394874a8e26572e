package validate

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/diag"
)

// Object is one rendered Kubernetes object and the component it belongs to.
// Obj is the object as decoded from JSON (numbers may be json.Number).
type Object struct {
	Component string
	Obj       map[string]any
}

// Check names one kind of check, so callers and tests can tell findings
// apart (Problem.Check).
type Check = string

// The checks this package runs.
const (
	CheckSchema              Check = "schema"
	CheckKind                Check = "kind"
	CheckImageTag            Check = "image-tag"
	CheckResources           Check = "resources"
	CheckRunAsNonRoot        Check = "run-as-non-root"
	CheckPrivilegeEscalation Check = "privilege-escalation"
	CheckProbes              Check = "probes"
	CheckIRSA                Check = "irsa"
	CheckSecretData          Check = "secret-data"
	CheckCredential          Check = "credential"
	CheckLoadBalancer        Check = "load-balancer"
	// CheckAWSLimit is a value AWS would refuse (internal/awsrules).
	CheckAWSLimit Check = "aws-limit"
)

// Problem is one finding: a diag.Error naming the region, the file and
// line (for findings in files, like the AWS desired state), the component,
// the object (Kind/namespace/name, or Kind/name when cluster-scoped) and the
// field path, with its Check and a hint. Its Locate is text of the
// offending value (for a credential, the suspected secret) that callers may
// search their inputs for to name the file and line behind the problem;
// Error never prints it.
type Problem = diag.Error

// Options tune the checks.
type Options struct {
	// Allow lists known false positives of the secret guard
	// (secretGuard.allow in overlays/fleet.yaml).
	Allow []config.Allowance
	// AllowKinds lists "apiVersion/Kind" values accepted although this
	// package does not know them (for example
	// "monitoring.coreos.com/v1/ServiceMonitor"), or built-in alpha/beta
	// versions (validation.allowKinds in overlays/fleet.yaml). Known Go
	// types are still decoded strictly; unknown kinds are only checked by
	// the secret guard and the object-level policies. Kinds defined by a
	// CustomResourceDefinition among the objects need no entry.
	AllowKinds []string
	// AWSRegion is the AWS region of the region's cluster and load
	// balancers; a Service's certificate must be there. Empty skips the
	// comparison.
	AWSRegion string
	// AWSAccountID is the fleet's account; a Service's certificate must
	// belong to it. Empty skips the comparison.
	AWSAccountID string
}

// Objects validates the rendered objects of one region: strict schema,
// policies and the secret guard. It returns every problem found, in the
// order of objs, or nil when all objects pass. An object of a kind that a
// CustomResourceDefinition among objs defines (in a served version) is
// accepted without a schema, as Options.AllowKinds would.
func Objects(region string, objs []Object, opts Options) []*Problem {
	allowKinds := map[string]bool{}
	for _, k := range opts.AllowKinds {
		allowKinds[k] = true
	}
	crds := crdKinds(objs)
	var out []*Problem
	for _, o := range objs {
		c := &objectCheck{region: region, component: o.Component, obj: o.Obj, ref: Ref(o.Obj)}
		c.run(allowKinds, crds, opts)
		out = append(out, c.problems...)
	}
	return out
}

// Credentials runs only the secret-data policy and the secret guard over
// objects that are committed but not applied, such as the manifests render
// writes under regions/<region>/review/ for reviewers: they reach git like
// every other object, but are not decoded against a schema.
func Credentials(region string, objs []Object, opts Options) []*Problem {
	var out []*Problem
	for _, o := range objs {
		c := &objectCheck{region: region, component: o.Component, obj: o.Obj, ref: Ref(o.Obj)}
		c.secretData()
		c.credentials(opts.Allow)
		out = append(out, c.problems...)
	}
	return out
}

// Ref names an object as Kind/namespace/name, or Kind/name when it has no
// namespace, the form used in Problem.Object.
func Ref(m map[string]any) string {
	kind, ns, name := str(m, "kind"), str(m, "metadata", "namespace"), str(m, "metadata", "name")
	if ns == "" {
		return kind + "/" + name
	}
	return kind + "/" + ns + "/" + name
}

// objectCheck collects the problems of one object.
type objectCheck struct {
	region, component, ref string
	obj                    map[string]any
	problems               []*Problem
}

func (c *objectCheck) add(check Check, field, hint, format string, args ...any) {
	c.problems = append(c.problems, &Problem{Check: check, Region: c.region, Component: c.component, Object: c.ref,
		Field: field, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

func (c *objectCheck) run(allowKinds, crds map[string]bool, opts Options) {
	c.secretData()
	c.irsa()
	c.loadBalancer(opts.AWSRegion, opts.AWSAccountID)
	typed := c.schema(allowKinds, crds)
	if typed != nil {
		c.policies(typed)
	}
	c.credentials(opts.Allow)
}

// crdKinds returns "<group>/<version>/<Kind>" for every served version of
// every apiextensions.k8s.io/v1 CustomResourceDefinition among objs.
func crdKinds(objs []Object) map[string]bool {
	out := map[string]bool{}
	for _, o := range objs {
		if str(o.Obj, "apiVersion") != "apiextensions.k8s.io/v1" || str(o.Obj, "kind") != "CustomResourceDefinition" {
			continue
		}
		group, kind := str(o.Obj, "spec", "group"), str(o.Obj, "spec", "names", "kind")
		raw, _, _ := unstructured.NestedFieldNoCopy(o.Obj, "spec", "versions")
		versions, _ := raw.([]any)
		for _, v := range versions {
			vm, _ := v.(map[string]any)
			if served, _ := vm["served"].(bool); !served {
				continue
			}
			if name, _ := vm["name"].(string); name != "" && group != "" && kind != "" {
				out[group+"/"+name+"/"+kind] = true
			}
		}
	}
	return out
}

// secretData rejects Secrets that carry values.
func (c *objectCheck) secretData() {
	if str(c.obj, "apiVersion") != "v1" || str(c.obj, "kind") != "Secret" {
		return
	}
	for _, f := range []string{"data", "stringData"} {
		v, ok := c.obj[f]
		if !ok || v == nil {
			continue
		}
		if m, isMap := v.(map[string]any); isMap && len(m) == 0 {
			continue
		}
		c.add(CheckSecretData, f, "reference the Secret by name and key and let External Secrets or the key-sync job fill it; secret values never go to git",
			"Secret carries %s: rendered output must not contain secret values", f)
	}
}

// str returns the string at a path of an object, or "".
func str(m map[string]any, keys ...string) string {
	s, _, _ := unstructured.NestedString(m, keys...)
	return s
}

// marshal encodes an object for the strict decoders. json.Number values are
// written as the numbers they hold.
func marshal(m map[string]any) ([]byte, error) {
	return json.Marshal(m)
}
