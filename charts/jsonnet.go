package charts

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"

	"github.com/coderfleet/coderfleet/internal/diag"
)

// NativeFunctionName is the name templates call: std.native('helmTemplate').
const NativeFunctionName = "helmTemplate"

// NativeFunction returns the Jsonnet native function helmTemplate(name,
// chart, values, opts), backed by r (so it shares r's memo):
//
//   - name: the release name (string)
//   - chart: the chart's name in charts.yaml (string)
//   - values: an object of values, or null
//   - opts: an object with namespace (string, required), kubeVersion
//     (string, required), apiVersions (array of strings), includeCRDs
//     (boolean, default true), hooks ("include" or "exclude", default
//     "include") and clusterScopedKinds (array of strings). Other keys are
//     errors.
//
// It returns {chart: {...}, resources: [...], crds: [...]} as [Result]
// describes. templates/lib/helm.libsonnet wraps it.
func (r *Renderer) NativeFunction() *jsonnet.NativeFunction {
	return &jsonnet.NativeFunction{
		Name:   NativeFunctionName,
		Params: ast.Identifiers{"name", "chart", "values", "opts"},
		Func: func(args []any) (any, error) {
			req, err := requestFromJsonnet(args)
			if err != nil {
				return nil, err
			}
			data, err := r.templateJSON(req)
			if err != nil {
				return nil, err
			}
			var out map[string]any
			if err := json.Unmarshal(data, &out); err != nil {
				return nil, fmt.Errorf("helmTemplate: decoding the memoized render: %w", err)
			}
			return out, nil
		},
	}
}

// requestFromJsonnet checks the native function's arguments strictly.
func requestFromJsonnet(args []any) (Request, error) {
	var req Request
	if len(args) != 4 {
		return req, fmt.Errorf("helmTemplate takes (name, chart, values, opts), got %d arguments", len(args))
	}
	var ok bool
	if req.ReleaseName, ok = args[0].(string); !ok {
		return req, fmt.Errorf("helmTemplate: name must be a string, got %s", jsonTypeName(args[0]))
	}
	if req.Chart, ok = args[1].(string); !ok {
		return req, fmt.Errorf("helmTemplate(%q): chart must be a string, got %s", req.ReleaseName, jsonTypeName(args[1]))
	}
	where := fmt.Sprintf("helmTemplate(%q, %q)", req.ReleaseName, req.Chart)
	switch v := args[2].(type) {
	case nil:
	case map[string]any:
		req.Values = v
	default:
		return req, fmt.Errorf("%s: values must be an object or null, got %s", where, jsonTypeName(v))
	}
	opts, ok := args[3].(map[string]any)
	if !ok {
		return req, fmt.Errorf("%s: opts must be an object, got %s", where, jsonTypeName(args[3]))
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	str := func(k string, v any) (string, error) {
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%s: opts.%s must be a string, got %s", where, k, jsonTypeName(v))
		}
		return s, nil
	}
	strs := func(k string, v any) ([]string, error) {
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: opts.%s must be an array of strings, got %s", where, k, jsonTypeName(v))
		}
		out := make([]string, 0, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s: opts.%s[%d] must be a string, got %s", where, k, i, jsonTypeName(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	var err error
	for _, k := range keys {
		v := opts[k]
		switch k {
		case "namespace":
			req.Namespace, err = str(k, v)
		case "kubeVersion":
			req.KubeVersion, err = str(k, v)
		case "apiVersions":
			req.APIVersions, err = strs(k, v)
		case "clusterScopedKinds":
			req.ClusterScopedKinds, err = strs(k, v)
		case "hooks":
			var s string
			s, err = str(k, v)
			req.Hooks = HookMode(s)
		case "includeCRDs":
			b, isBool := v.(bool)
			if !isBool {
				err = fmt.Errorf("%s: opts.includeCRDs must be a boolean, got %s", where, jsonTypeName(v))
			}
			req.ExcludeCRDs = !b
		default:
			err = fmt.Errorf("%s: unknown option %q (known: apiVersions, clusterScopedKinds, hooks, includeCRDs, kubeVersion, namespace)", where, k)
		}
		if err != nil {
			return req, err
		}
	}
	return req, nil
}

// IsInputError reports whether err is a problem the user fixes in a file:
// an invalid charts.yaml or charts.lock, vendored charts out of step with the
// lock, or values that do not match a chart's schema. Other errors are
// runtime failures (I/O, network). Errors raised inside a Jsonnet
// evaluation reach the caller as Jsonnet runtime errors, by message only.
func IsInputError(err error) bool { return diag.IsInput(err) }
