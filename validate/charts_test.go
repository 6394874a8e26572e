package validate

import (
	"strings"
	"testing"
)

// The metrics-server chart's APIService, as the chart renders it.
const metricsAPIService = `
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  groupPriorityMinimum: 100
  insecureSkipTLSVerify: true
  service: {name: metrics-server, namespace: kube-system, port: 443}
  version: v1beta1
  versionPriority: 100
`

// A chart's CRD and a custom resource of it, as cert-manager renders them.
const issuerCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: issuers.cert-manager.io}
spec:
  group: cert-manager.io
  names: {kind: Issuer, listKind: IssuerList, plural: issuers, singular: issuer}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
  - name: v1alpha1
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
`

const issuer = `
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: apps}
spec: {selfSigned: {}}
`

// TestChartKinds covers the kinds charts render that client-go's scheme
// does not hold: the aggregator's APIService is built in, a custom
// resource is accepted when the region renders its CRD (in a served
// version), and anything else names the setting that accepts it.
func TestChartKinds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		objs  []map[string]any
		opts  Options
		wants []want
	}{
		{name: "APIService is a built-in kind", objs: []map[string]any{obj(t, metricsAPIService)}},
		{name: "APIService is still decoded strictly", objs: []map[string]any{obj(t, metricsAPIService, "spec.priority=1")},
			wants: []want{{CheckSchema, "spec.priority", `unknown field "priority"`}}},
		{name: "a custom resource whose CRD the region renders", objs: []map[string]any{obj(t, issuerCRD), obj(t, issuer)}},
		{name: "a custom resource in a version its CRD does not serve", objs: []map[string]any{obj(t, issuerCRD), obj(t, issuer, "apiVersion=cert-manager.io/v1alpha1")},
			wants: []want{{CheckKind, "kind", "unknown apiVersion/kind cert-manager.io/v1alpha1 Issuer"}}},
		{name: "a custom resource without its CRD", objs: []map[string]any{obj(t, issuer)},
			wants: []want{{CheckKind, "kind", "unknown apiVersion/kind"}}},
		{name: "a custom resource the fleet allows", objs: []map[string]any{obj(t, issuer)}, opts: Options{AllowKinds: []string{"cert-manager.io/v1/Issuer"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertProblems(t, Objects("r", objects(tc.objs), tc.opts), tc.wants)
		})
	}
	p := Objects("r", objects([]map[string]any{obj(t, issuer)}), Options{})
	if len(p) != 1 || !strings.Contains(p[0].Hint, `list "cert-manager.io/v1/Issuer" in validation.allowKinds in overlays/fleet.yaml`) {
		t.Errorf("the hint of an unknown kind must name the setting that accepts it, got %v", p)
	}
}

// A LoadBalancer Service terminating TLS at the NLB.
const tlsService = `
apiVersion: v1
kind: Service
metadata:
  name: coder
  namespace: coder
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-ssl-cert: arn:aws:acm:us-east-2:123456789012:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
    service.beta.kubernetes.io/aws-load-balancer-ssl-ports: "443"
spec:
  type: LoadBalancer
  selector: {app: coder}
  ports:
  - {name: https, port: 443, targetPort: http}
`

// TestSSLPorts refuses an ssl-ports annotation naming a port the Service
// does not expose (the upstream Coder chart's Service exposes 80 with
// ssl-ports "443": the NLB would serve plain HTTP).
func TestSSLPorts(t *testing.T) {
	const field = `metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"]`
	for _, tc := range []struct {
		name  string
		obj   map[string]any
		wants []want
	}{
		{name: "port 443 exposed", obj: obj(t, tlsService)},
		{name: "by name", obj: withAnnotation(obj(t, tlsService), SSLPortsAnnotation, "https")},
		{name: "every port", obj: withAnnotation(obj(t, tlsService), SSLPortsAnnotation, "*")},
		{name: "the chart's Service on port 80", obj: obj(t, tlsService, "spec.ports.0.port=80", "spec.ports.0.name=http"),
			wants: []want{{CheckLoadBalancer, field, `names port "443", which the Service does not expose (it exposes 80 (http))`}}},
		{name: "one of several", obj: withAnnotation(obj(t, tlsService), SSLPortsAnnotation, "443, 8443"),
			wants: []want{{CheckLoadBalancer, field, `names port "8443"`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertProblems(t, Objects("r", objects([]map[string]any{tc.obj}), Options{}), tc.wants)
		})
	}
}

func objects(ms []map[string]any) []Object {
	out := make([]Object, len(ms))
	for i, m := range ms {
		out[i] = Object{Component: "c", Obj: m}
	}
	return out
}
