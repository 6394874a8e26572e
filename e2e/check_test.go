package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/coderfleet/coderfleet/internal/kubetest"
)

// sampleTree is a small rendered fleet: two regions with the kinds the
// renderer emits, one object that must be rejected (an unknown field, caught
// by strict validation), one kind typo in a served group, a CRD shipped in the
// tree with an object of its kind, and files that are not objects.
var sampleTree = map[string]string{
	"r1/flux/namespace-flux-system.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
`,
	"r1/flux/kustomization-coder.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: coder
  namespace: flux-system
spec:
  interval: 10m
  path: ./regions/r1/coder
  prune: true
  wait: true
  sourceRef:
    kind: GitRepository
    name: fleet
`,
	"r1/flux/kustomization.yaml": "resources: [namespace-flux-system.yaml, kustomization-coder.yaml]\n",
	"r1/coder/namespace-coder.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: coder
`,
	"r1/coder/deployment-coder.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: coder
  namespace: coder
spec:
  replicas: 1
  selector:
    matchLabels: {app: coder}
  template:
    metadata:
      labels: {app: coder}
    spec:
      containers:
      - name: coder
        image: ghcr.io/coder/coder:v2.24.2
        args: [server]
        ports:
        - {name: http, containerPort: 8080}
        resources:
          requests: {cpu: 2000m, memory: 4Gi}
          limits: {cpu: 4000m, memory: 8Gi}
`,
	// No namespace: it comes from the folder's kustomization.yaml.
	"r1/coder/service-coder.yaml": `apiVersion: v1
kind: Service
metadata:
  name: coder
spec:
  type: LoadBalancer
  loadBalancerClass: service.k8s.aws/nlb
  selector: {app: coder}
  ports:
  - {name: https, port: 443, targetPort: http}
`,
	"r1/coder/externalsecret-litellm.yaml": `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: litellm
  namespace: coder
spec:
  refreshInterval: 5m
  secretStoreRef: {kind: SecretStore, name: aws}
  target: {name: litellm}
  data:
  - secretKey: token
    remoteRef: {key: litellm-key, property: LITELLM_MASTER_KEY}
`,
	"r1/coder/kustomization.yaml": "namespace: coder\nresources: [namespace-coder.yaml]\n",
	"r1/coder/.ignored.yaml":      "this: [is not, an object\n",
	"r1/aws/route53.yaml":         "records:\n- name: example.com\n",
	"r1/notes.yaml":               "not: an object in a component\n",
	"r1/addons/crd-widgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.coderfleet.io
spec:
  group: example.coderfleet.io
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`,
	"r1/addons/widget-one.yaml": `apiVersion: example.coderfleet.io/v1
kind: Widget
metadata:
  name: one
  namespace: coder
spec:
  size: 3
`,
	"r2/coder-proxy/namespace.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: coder-proxy
`,
	"r2/coder-proxy/deployment-broken.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
  namespace: coder-proxy
spec:
  selector:
    matchLabels: {app: broken}
  template:
    metadata:
      labels: {app: broken}
    spec:
      containers:
      - name: coder
        image: ghcr.io/coder/coder:v2.24.2
        imagePullPolicyy: IfNotPresent
`,
	"r2/coder-proxy/typo.yaml": `apiVersion: apps/v1
kind: Deploymnt
metadata:
  name: typo
  namespace: coder-proxy
`,
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLoadTreeSelectsObjectFiles(t *testing.T) {
	objs, err := LoadTree(os.DirFS(writeTree(t, sampleTree)), "regions")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.File)
	}
	want := []string{
		"r1/addons/crd-widgets.yaml", "r1/addons/widget-one.yaml",
		"r1/coder/deployment-coder.yaml", "r1/coder/externalsecret-litellm.yaml",
		"r1/coder/namespace-coder.yaml", "r1/coder/service-coder.yaml",
		"r1/flux/kustomization-coder.yaml", "r1/flux/namespace-flux-system.yaml",
		"r2/coder-proxy/deployment-broken.yaml", "r2/coder-proxy/namespace.yaml", "r2/coder-proxy/typo.yaml",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("object files:\nGOT\n%s\nWANT\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, o := range objs {
		if o.File == "r1/coder/service-coder.yaml" && (o.DefaultNamespace != "coder" || o.Region != "r1" || o.Component != "coder") {
			t.Errorf("service: got region %q component %q default namespace %q", o.Region, o.Component, o.DefaultNamespace)
		}
	}
}

func TestLoadTreeNamesTheBadFile(t *testing.T) {
	_, err := LoadTree(fstest.MapFS{"r1/coder/bad.yaml": {Data: []byte("kind: Service\nmetadata:\n  name: x\n")}}, "regions")
	if err == nil || !strings.Contains(err.Error(), `"regions/r1/coder/bad.yaml"`) || !strings.Contains(err.Error(), "apiVersion") {
		t.Errorf("got %v, want an error naming the file and apiVersion", err)
	}
	_, err = LoadTree(fstest.MapFS{"r1/coder/bad.yaml": {Data: []byte("apiVersion: v1\nkind: Service\nmetadata: {name: [\n")}}, "regions")
	if err == nil || !strings.Contains(err.Error(), `"regions/r1/coder/bad.yaml"`) {
		t.Errorf("got %v, want an error naming the file", err)
	}
}

func TestCheckSampleTree(t *testing.T) {
	srv := kubetest.Start(t)
	c, err := NewChecker(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := LoadTree(os.DirFS(writeTree(t, sampleTree)), "regions")
	if err != nil {
		t.Fatal(err)
	}

	// Without the Flux and External Secrets CRDs their kinds are reported
	// as not checked, never as accepted.
	r, err := c.Check(t.Context(), objs)
	if err != nil {
		t.Fatal(err)
	}
	wantUnchecked := "external-secrets.io/v1/ExternalSecret,kustomize.toolkit.fluxcd.io/v1/Kustomization"
	if got := strings.Join(r.UncheckedKinds(), ","); got != wantUnchecked {
		t.Errorf("without CRDs: unchecked kinds %q, want %q", got, wantUnchecked)
	}
	wantLines := []string{
		"regions/r1: 6 objects accepted",
		"regions/r2: 1 objects accepted, 2 rejected",
		"server-side dry-run: 7 objects accepted, 2 rejected, 2 not checked, in 2 regions (not checked: " +
			"external-secrets.io/v1/ExternalSecret, kustomize.toolkit.fluxcd.io/v1/Kustomization)",
	}
	checkSampleReport(t, r, wantLines)

	dir, ok := crdDir(t)
	if ok {
		crds, err := LoadCRDs(os.DirFS(dir))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.InstallCRDs(t.Context(), crds); err != nil {
			t.Fatal(err)
		}
		r, err = c.Check(t.Context(), objs)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Unchecked) != 0 {
			t.Errorf("with CRDs: unchecked kinds %v, want none", r.UncheckedKinds())
		}
		checkSampleReport(t, r, []string{
			"regions/r1: 8 objects accepted",
			"regions/r2: 1 objects accepted, 2 rejected",
			"server-side dry-run: 9 objects accepted, 2 rejected, 0 not checked, in 2 regions",
		})
	} else {
		t.Logf("WARNING: no CRD folder at %q (set %s): the Kustomization and ExternalSecret samples were only checked to be reported as not checked", dir, crdsEnv)
	}

	// Namespaces were applied for real; everything else was a dry run.
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(t.Context(), "coder", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace coder should exist: %v", err)
	}
	if _, err := cs.AppsV1().Deployments("coder").Get(t.Context(), "coder", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment coder/coder should not exist after a dry run, got %v", err)
	}
	if _, err := cs.CoreV1().Services("coder").Get(t.Context(), "coder", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("service coder/coder should not exist after a dry run, got %v", err)
	}
}

func checkSampleReport(t *testing.T, r *Report, wantLines []string) {
	t.Helper()
	if lines := r.Lines(); strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("report lines:\nGOT\n%s\nWANT\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
	if len(r.Rejected) != 2 {
		t.Fatalf("rejections: %v, want 2", r.Err())
	}
	msg := r.Err().Error()
	for _, want := range []string{
		`region "r2", component "coder-proxy", Deployment coder-proxy/broken (regions/r2/coder-proxy/deployment-broken.yaml)`,
		`imagePullPolicyy`,
		`region "r2", component "coder-proxy", Deploymnt coder-proxy/typo`,
		`serves API group "apps" but not kind Deploymnt`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("rejection report lacks %q:\n%s", want, msg)
		}
	}
}

func TestLoadCRDsRejectsOtherKinds(t *testing.T) {
	_, err := LoadCRDs(fstest.MapFS{"x.yaml": {Data: []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")}})
	if err == nil || !strings.Contains(err.Error(), `"x.yaml"`) || !strings.Contains(err.Error(), "not a CustomResourceDefinition") {
		t.Errorf("got %v", err)
	}
	if _, err := LoadCRDs(fstest.MapFS{"README.md": {Data: []byte("hi")}}); err == nil {
		t.Error("an empty CRD folder: want an error")
	}
}
