package validate

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/coderfleet/coderfleet/internal/awsrules"
)

// A valid Deployment every policy accepts; cases mutate a fresh copy.
const goodDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: apps
spec:
  replicas: 2
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
      initContainers:
      - name: init
        image: ghcr.io/example/init:v1.0.0
        resources:
          requests: {cpu: 10m, memory: 16Mi}
          limits: {cpu: 100m, memory: 32Mi}
        securityContext:
          allowPrivilegeEscalation: false
      containers:
      - name: app
        image: ghcr.io/example/app:v1.2.3
        env:
        - name: PLAIN
          value: hello
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef: {name: db, key: password}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: "1", memory: 256Mi}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
        livenessProbe:
          httpGet: {path: /healthz, port: 8080}
`

const goodCronJob = `
apiVersion: batch/v1
kind: CronJob
metadata: {name: sync, namespace: ws}
spec:
  schedule: "*/10 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          serviceAccountName: sync
          securityContext: {runAsNonRoot: true}
          containers:
          - name: sync
            image: ghcr.io/example/sync@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
            resources:
              requests: {cpu: 10m, memory: 16Mi}
              limits: {cpu: 100m, memory: 64Mi}
            securityContext: {allowPrivilegeEscalation: false}
`

const goodServiceAccount = `
apiVersion: v1
kind: ServiceAccount
metadata:
  name: coder
  namespace: coder
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/coderfleet/coder-use2
`

const goodExternalSecret = `
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: litellm, namespace: ws}
spec:
  refreshInterval: 15m
  secretStoreRef: {kind: SecretStore, name: litellm-key}
  target:
    name: litellm
    creationPolicy: Owner
    deletionPolicy: Retain
    template:
      type: Opaque
      engineVersion: v2
      metadata:
        labels: {app: litellm}
  data:
  - secretKey: token
    remoteRef: {key: litellm/workspace-key, property: LITELLM_MASTER_KEY, decodingStrategy: None}
`

const goodSecretStore = `
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: litellm-key, namespace: ws}
spec:
  provider:
    aws:
      service: SecretsManager
      region: us-east-2
      auth:
        jwt:
          serviceAccountRef: {name: litellm-key-sync}
`

const goodHelmRelease = `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: cert-manager, namespace: flux-system}
spec:
  interval: 30m
  releaseName: cert-manager
  targetNamespace: cert-manager
  chartRef: {kind: OCIRepository, name: cert-manager}
  install: {remediation: {retries: 3}}
  upgrade: {remediation: {retries: 3, remediateLastFailure: true}}
  values:
    anything: {goes: here}
`

const goodKustomization = `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: coder, namespace: flux-system}
spec:
  interval: 10m
  path: ./regions/us-east-2/coder
  prune: true
  wait: true
  sourceRef: {kind: GitRepository, name: fleet}
  dependsOn: [{name: addons}]
`

const goodOCIRepository = `
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: cert-manager, namespace: flux-system}
spec:
  interval: 1h
  url: oci://quay.io/jetstack/charts/cert-manager
  ref: {tag: v1.18.2}
`

// obj decodes YAML into an object and applies edits: "path=value" sets
// (value is YAML), "path-" deletes. Paths are dotted with numeric indices.
func obj(t *testing.T, doc string, edits ...string) map[string]any {
	t.Helper()
	m := decodeYAML(t, "test", []byte(doc))
	for _, e := range edits {
		if p, ok := strings.CutSuffix(e, "-"); ok && !strings.Contains(e, "=") {
			set(t, m, p, nil, true)
			continue
		}
		p, v, _ := strings.Cut(e, "=")
		val := decodeYAML(t, "value", []byte("v: "+v))["v"]
		set(t, m, p, val, false)
	}
	return m
}

func set(t *testing.T, m map[string]any, path string, v any, del bool) {
	t.Helper()
	parts := strings.Split(path, ".")
	var cur any = m
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if del {
					delete(c, p)
				} else {
					c[p] = v
				}
				return
			}
			if c[p] == nil {
				c[p] = map[string]any{}
			}
			cur = c[p]
		case []any:
			var idx int
			if _, err := fmt.Sscan(p, &idx); err != nil || idx >= len(c) {
				t.Fatalf("bad index %q in %q", p, path)
			}
			if last {
				c[idx] = v
				return
			}
			cur = c[idx]
		default:
			t.Fatalf("cannot walk %q in %q", p, path)
		}
	}
}

type want struct {
	check Check
	field string
	msg   string // a phrase of the message
}

func TestObjects(t *testing.T) {
	const ctr = "spec.template.spec.containers[app]"
	cases := []struct {
		name  string
		objs  []map[string]any
		opts  Options
		wants []want // exactly these problems, in order
	}{
		{name: "valid objects of every emitted kind", objs: []map[string]any{
			obj(t, goodDeployment), obj(t, goodCronJob), obj(t, goodServiceAccount), obj(t, goodExternalSecret),
			obj(t, goodSecretStore), obj(t, goodHelmRelease), obj(t, goodKustomization), obj(t, goodOCIRepository),
			obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: empty, namespace: x}\ntype: Opaque\n"),
		}},

		// Strict schema: built-in kinds.
		{name: "unknown container field", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.containers.0.imagePullPolicyy=Always")},
			wants: []want{{CheckSchema, ctr + ".imagePullPolicyy", `unknown field "imagePullPolicyy"`}}},
		{name: "field names are case-sensitive", objs: []map[string]any{obj(t, goodDeployment, "spec.Replicas=3")},
			wants: []want{{CheckSchema, "spec.Replicas", `unknown field "Replicas"`}}},
		{name: "unknown top-level field", objs: []map[string]any{obj(t, goodServiceAccount, "automount=true")},
			wants: []want{{CheckSchema, "automount", `unknown field "automount"`}}},
		{name: "wrong type", objs: []map[string]any{obj(t, goodDeployment, "spec.replicas=two")},
			wants: []want{{CheckSchema, "spec.replicas", "wrong type: got string, want a number"}}},
		{name: "unknown field named inside env item", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.containers.0.env.0.valu=x")},
			wants: []want{{CheckSchema, ctr + ".env[PLAIN].valu", `unknown field "valu"`}}},

		// Strict schema: Flux kinds.
		{name: "flux HelmRelease unknown field", objs: []map[string]any{obj(t, goodHelmRelease, "spec.install.remediation.retriess=3")},
			wants: []want{{CheckSchema, "spec.install.remediation.retriess", `unknown field "retriess"`}}},
		{name: "flux Kustomization wrong type", objs: []map[string]any{obj(t, goodKustomization, "spec.prune=\"yes\"")},
			wants: []want{{CheckSchema, "spec.prune", "want a boolean"}}},
		{name: "flux OCIRepository unknown field", objs: []map[string]any{obj(t, goodOCIRepository, "spec.ref.tags=v1")},
			wants: []want{{CheckSchema, "spec.ref.tags", `unknown field "tags"`}}},
		{name: "flux dependsOn item field", objs: []map[string]any{obj(t, goodKustomization, "spec.dependsOn.0.nam=x")},
			wants: []want{{CheckSchema, "spec.dependsOn[addons].nam", `unknown field "nam"`}}},

		// Strict schema: the External Secrets subset.
		{name: "ExternalSecret unknown field", objs: []map[string]any{obj(t, goodExternalSecret, "spec.target.immutible=true")},
			wants: []want{{CheckSchema, "spec.target.immutible", `unknown field "immutible"`}}},
		{name: "ExternalSecret status is not emitted", objs: []map[string]any{obj(t, goodExternalSecret, "status={}")},
			wants: []want{{CheckSchema, "status", `unknown field "status"`}}},
		{name: "ExternalSecret bad enum", objs: []map[string]any{obj(t, goodExternalSecret, "spec.target.creationPolicy=Owned")},
			wants: []want{{CheckSchema, "spec.target.creationPolicy", `unsupported value "Owned"`}}},
		{name: "ExternalSecret bad remoteRef enum", objs: []map[string]any{obj(t, goodExternalSecret, "spec.data.0.remoteRef.decodingStrategy=Hex")},
			wants: []want{{CheckSchema, "spec.data[0].remoteRef.decodingStrategy", `unsupported value "Hex"`}}},
		{name: "ExternalSecret missing remote key", objs: []map[string]any{obj(t, goodExternalSecret, "spec.data.0.remoteRef.key-")},
			wants: []want{{CheckSchema, "spec.data[0].remoteRef.key", "key is required"}}},
		{name: "ExternalSecret missing store", objs: []map[string]any{obj(t, goodExternalSecret, "spec.secretStoreRef.name-")},
			wants: []want{{CheckSchema, "spec.secretStoreRef.name", "name is required"}}},
		{name: "ExternalSecret bad refresh interval", objs: []map[string]any{obj(t, goodExternalSecret, "spec.refreshInterval=daily")},
			wants: []want{{CheckSchema, "spec.refreshInterval", `invalid duration "daily"`}}},
		{name: "ExternalSecret without data", objs: []map[string]any{obj(t, goodExternalSecret, "spec.data-")},
			wants: []want{{CheckSchema, "spec.data", "spec.data is empty"}}},
		{name: "SecretStore without aws", objs: []map[string]any{obj(t, goodSecretStore, "spec.provider.aws-")},
			wants: []want{{CheckSchema, "spec.provider", "spec.provider.aws is required"}}},
		{name: "SecretStore other provider", objs: []map[string]any{obj(t, goodSecretStore, "spec.provider.vault={}")},
			wants: []want{{CheckSchema, "spec.provider.vault", `unknown field "vault"`}}},
		{name: "SecretStore bad service", objs: []map[string]any{obj(t, goodSecretStore, "spec.provider.aws.service=SSM")},
			wants: []want{{CheckSchema, "spec.provider.aws.service", `unsupported value "SSM"`}}},
		{name: "SecretStore bad service account", objs: []map[string]any{obj(t, goodSecretStore, "spec.provider.aws.auth.jwt.serviceAccountRef.name=Key_Sync")},
			wants: []want{{CheckSchema, "spec.provider.aws.auth.jwt.serviceAccountRef.name", `invalid ServiceAccount name "Key_Sync"`}}},
		{name: "SecretStore missing region", objs: []map[string]any{obj(t, goodSecretStore, "spec.provider.aws.region-")},
			wants: []want{{CheckSchema, "spec.provider.aws.region", "region is required"}}},

		// Kinds.
		{name: "unknown kind", objs: []map[string]any{obj(t, goodCronJob, "kind=CronJb")},
			wants: []want{{CheckKind, "kind", "unknown apiVersion/kind batch/v1 CronJb"}}},
		{name: "old Flux version", objs: []map[string]any{obj(t, goodOCIRepository, "apiVersion=source.toolkit.fluxcd.io/v1beta2")},
			wants: []want{{CheckKind, "apiVersion", "unknown apiVersion/kind source.toolkit.fluxcd.io/v1beta2 OCIRepository"}}},
		{name: "old External Secrets version", objs: []map[string]any{obj(t, goodSecretStore, "apiVersion=external-secrets.io/v1beta1")},
			wants: []want{{CheckKind, "apiVersion", "unknown apiVersion/kind external-secrets.io/v1beta1 SecretStore"}}},
		{name: "built-in beta version", objs: []map[string]any{obj(t, "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: x}\n")},
			wants: []want{{CheckKind, "apiVersion", "pre-release API version"}}},
		{name: "built-in beta version allowed is still strict", opts: Options{AllowKinds: []string{"admissionregistration.k8s.io/v1beta1/ValidatingWebhookConfiguration"}},
			objs:  []map[string]any{obj(t, "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: x}\nwebhookz: []\n")},
			wants: []want{{CheckSchema, "webhookz", `unknown field "webhookz"`}}},
		{name: "allowed unknown kind is still guarded", opts: Options{AllowKinds: []string{"monitoring.coreos.com/v1/ServiceMonitor"}},
			objs:  []map[string]any{obj(t, "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x, namespace: y}\nspec: {anything: AKIAIOSFODNN7EXAMPLE}\n")},
			wants: []want{{CheckCredential, "spec.anything", "AWS access key id"}}},
		{name: "missing apiVersion", objs: []map[string]any{obj(t, goodServiceAccount, "apiVersion-")},
			wants: []want{{CheckKind, "apiVersion", "invalid apiVersion"}}},

		// Policies: images.
		{name: "latest tag", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.containers.0.image=ghcr.io/example/app:latest")},
			wants: []want{{CheckImageTag, ctr + ".image", "uses the latest tag"}}},
		{name: "no tag", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.initContainers.0.image=busybox")},
			wants: []want{{CheckImageTag, "spec.template.spec.initContainers[init].image", `image "busybox" has no tag`}}},
		{name: "invalid image", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.containers.0.image=Ghcr.io/UPPER:v1")},
			wants: []want{{CheckImageTag, ctr + ".image", "invalid image reference"}}},
		{name: "no image", objs: []map[string]any{obj(t, goodCronJob, "spec.jobTemplate.spec.template.spec.containers.0.image-")},
			wants: []want{{CheckImageTag, "spec.jobTemplate.spec.template.spec.containers[sync].image", "no image"}}},

		// Policies: resources.
		{name: "missing cpu request and memory limit", objs: []map[string]any{obj(t, goodDeployment,
			"spec.template.spec.containers.0.resources.requests.cpu-", "spec.template.spec.containers.0.resources.limits.memory-")},
			wants: []want{{CheckResources, ctr + ".resources", "has no requests.cpu, limits.memory"}}},
		{name: "init container without resources", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.initContainers.0.resources-")},
			wants: []want{{CheckResources, "spec.template.spec.initContainers[init].resources", "has no requests.cpu, requests.memory, limits.cpu, limits.memory"}}},
		{name: "request above its limit (an overlay patch raised it)", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.initContainers.0.resources.requests.memory=2Gi")},
			wants: []want{{CheckResources, "spec.template.spec.initContainers[init].resources.requests.memory", `container "init" requests 2Gi memory, above its limit 32Mi`}}},
		{name: "request equal to its limit", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.initContainers.0.resources.requests.cpu=0.1")}},
		{name: "cronjob without limits", objs: []map[string]any{obj(t, goodCronJob, "spec.jobTemplate.spec.template.spec.containers.0.resources.limits-")},
			wants: []want{{CheckResources, "spec.jobTemplate.spec.template.spec.containers[sync].resources", "has no limits.cpu, limits.memory"}}},

		// Policies: non-root.
		{name: "no runAsNonRoot anywhere", objs: []map[string]any{obj(t, goodCronJob, "spec.jobTemplate.spec.template.spec.securityContext-")},
			wants: []want{{CheckRunAsNonRoot, "spec.jobTemplate.spec.template.spec.containers[sync].securityContext.runAsNonRoot", "may run as root"}}},
		{name: "container overrides pod runAsNonRoot", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.containers.0.securityContext.runAsNonRoot=false")},
			wants: []want{{CheckRunAsNonRoot, ctr + ".securityContext.runAsNonRoot", `container "app" may run as root`}}},
		{name: "container-level runAsNonRoot is enough", objs: []map[string]any{obj(t, goodCronJob,
			"spec.jobTemplate.spec.template.spec.securityContext-", "spec.jobTemplate.spec.template.spec.containers.0.securityContext.runAsNonRoot=true")}},
		{name: "run as user 0", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.initContainers.0.securityContext.runAsUser=0")},
			wants: []want{{CheckRunAsNonRoot, "spec.template.spec.initContainers[init].securityContext.runAsUser", "runs as user 0"}}},

		// Policies: privilege escalation.
		{name: "allowPrivilegeEscalation unset", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.containers.0.securityContext.allowPrivilegeEscalation-")},
			wants: []want{{CheckPrivilegeEscalation, ctr + ".securityContext.allowPrivilegeEscalation", "allows privilege escalation"}}},
		{name: "allowPrivilegeEscalation true", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.initContainers.0.securityContext.allowPrivilegeEscalation=true")},
			wants: []want{{CheckPrivilegeEscalation, "spec.template.spec.initContainers[init].securityContext.allowPrivilegeEscalation", "allows privilege escalation"}}},
		{name: "privileged", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.containers.0.securityContext.privileged=true")},
			wants: []want{{CheckPrivilegeEscalation, ctr + ".securityContext.privileged", "is privileged"}}},

		// Policies: probes.
		{name: "no readiness probe", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.containers.0.readinessProbe-")},
			wants: []want{{CheckProbes, ctr + ".readinessProbe", "has no readinessProbe"}}},
		{name: "no liveness probe", objs: []map[string]any{obj(t, goodDeployment, "spec.template.spec.containers.0.livenessProbe-")},
			wants: []want{{CheckProbes, ctr + ".livenessProbe", "has no livenessProbe"}}},
		{name: "statefulset needs probes too", objs: []map[string]any{obj(t, goodDeployment, "kind=StatefulSet", "spec.serviceName=app",
			"spec.template.spec.containers.0.readinessProbe-", "spec.template.spec.containers.0.livenessProbe-")},
			wants: []want{{CheckProbes, ctr + ".readinessProbe", "readinessProbe"}, {CheckProbes, ctr + ".livenessProbe", "livenessProbe"}}},

		// Policies: IRSA.
		{name: "IRSA wrong service", objs: []map[string]any{irsa(t, "arn:aws:s3:::123456789012:role/x")},
			wants: []want{{CheckIRSA, `metadata.annotations["eks.amazonaws.com/role-arn"]`, `service is "s3", not iam`}}},
		{name: "IRSA short account", objs: []map[string]any{irsa(t, "arn:aws:iam::12345:role/coder")},
			wants: []want{{CheckIRSA, `metadata.annotations["eks.amazonaws.com/role-arn"]`, "account id must be 12 digits"}}},
		{name: "IRSA user not role", objs: []map[string]any{irsa(t, "arn:aws:iam::123456789012:user/coder")},
			wants: []want{{CheckIRSA, `metadata.annotations["eks.amazonaws.com/role-arn"]`, "is not an IAM role"}}},
		{name: "IRSA garbage", objs: []map[string]any{irsa(t, "coder-role")},
			wants: []want{{CheckIRSA, `metadata.annotations["eks.amazonaws.com/role-arn"]`, `"coder-role" is not an IAM role ARN: it is not an ARN`}}},
		{name: "IRSA empty", objs: []map[string]any{irsa(t, `""`)},
			wants: []want{{CheckIRSA, `metadata.annotations["eks.amazonaws.com/role-arn"]`, "empty IAM role ARN"}}},
		{name: "IRSA with region", objs: []map[string]any{irsa(t, "arn:aws:iam:us-east-1:123456789012:role/coder")},
			wants: []want{{CheckIRSA, `metadata.annotations["eks.amazonaws.com/role-arn"]`, "IAM ARNs have no region"}}},
		{name: "IRSA govcloud is fine", objs: []map[string]any{irsa(t, "arn:aws-us-gov:iam::123456789012:role/coder")}},
		{name: "IRSA on a Deployment", objs: []map[string]any{withAnnotation(obj(t, goodDeployment), IRSAAnnotation, "arn:aws:iam::123456789012:role/coder")},
			wants: []want{{CheckIRSA, `metadata.annotations["eks.amazonaws.com/role-arn"]`, "only has an effect on a ServiceAccount"}}},

		{name: "IRSA role name over 64 characters", objs: []map[string]any{irsa(t, "arn:aws:iam::123456789012:role/"+strings.Repeat("r", 65))},
			wants: []want{{CheckIRSA, `metadata.annotations["eks.amazonaws.com/role-arn"]`, "IAM allows at most 64"}}},

		// AWS limits of the load balancer a Service asks for.
		{name: "Service certificate of another region", opts: lbOpts, objs: []map[string]any{nlbService(t, awsrules.AnnotationSSLCert, "arn:aws:acm:us-west-2:123456789012:certificate/00000000-0000-4000-8000-000000000003")},
			wants: []want{{CheckAWSLimit, `metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"]`, "ACM certificates are regional"}}},
		{name: "Service certificate of another account", opts: lbOpts, objs: []map[string]any{nlbService(t, awsrules.AnnotationSSLCert, "arn:aws:acm:us-east-2:210987654321:certificate/00000000-0000-4000-8000-000000000003")},
			wants: []want{{CheckAWSLimit, `metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"]`, "belongs to account 210987654321"}}},
		{name: "Service certificate of its region", opts: lbOpts, objs: []map[string]any{nlbService(t, awsrules.AnnotationSSLCert, "arn:aws:acm:us-east-2:123456789012:certificate/00000000-0000-4000-8000-000000000003")}},
		{name: "Service scheme", opts: lbOpts, objs: []map[string]any{nlbService(t, awsrules.AnnotationScheme, "public")},
			wants: []want{{CheckAWSLimit, `metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"]`, "accepts internet-facing, internal"}}},
		{name: "Service attribute", opts: lbOpts, objs: []map[string]any{nlbService(t, awsrules.AnnotationAttributes, "deletion_protection=true")},
			wants: []want{{CheckAWSLimit, `metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-attributes"]`, "unknown Network Load Balancer attribute"}}},
		{name: "Service load balancer name", opts: lbOpts, objs: []map[string]any{nlbService(t, awsrules.AnnotationName, "coderdemo-us-east-2-coderd-primary")},
			wants: []want{{CheckAWSLimit, `metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-name"]`, "1 to 32"}}},
		{name: "Service tags", opts: lbOpts, objs: []map[string]any{nlbService(t, awsrules.AnnotationAdditionalTags, "aws:team=platform")},
			wants: []want{{CheckAWSLimit, `metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"]`, "prefix aws:"}}},

		// Policies: Secrets carry no values.
		{name: "Secret with data", objs: []map[string]any{obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: x}\ndata: {password: aHVudGVyMg==}\n")},
			wants: []want{{CheckSecretData, "data", "Secret carries data"}}},
		{name: "Secret with stringData", objs: []map[string]any{obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: x}\nstringData: {password: hunter2}\n")},
			wants: []want{{CheckSecretData, "stringData", "Secret carries stringData"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var objs []Object
			for _, m := range tc.objs {
				objs = append(objs, Object{Component: "test", Obj: m})
			}
			got := Objects("us-east-2", objs, tc.opts)
			assertProblems(t, got, tc.wants)
			for _, p := range got {
				if p.Region != "us-east-2" || p.Component != "test" || p.Object == "" || p.Hint == "" {
					t.Errorf("problem lacks region, component, object or hint: %#v", p)
				}
			}
		})
	}
}

// lbOpts place the rendered region's load balancers in us-east-2 of the
// example account.
var lbOpts = Options{AWSRegion: "us-east-2", AWSAccountID: "123456789012"}

// nlbService is a Service with one AWS Load Balancer Controller annotation.
func nlbService(t *testing.T, key, value string) map[string]any {
	t.Helper()
	m := obj(t, "apiVersion: v1\nkind: Service\nmetadata: {name: coder, namespace: coder}\nspec: {type: LoadBalancer, ports: [{port: 443, targetPort: http}]}\n")
	return withAnnotation(m, key, value)
}

func irsa(t *testing.T, arn string) map[string]any {
	m := obj(t, goodServiceAccount)
	if arn == `""` {
		arn = ""
	}
	return withAnnotation(m, IRSAAnnotation, arn)
}

func withAnnotation(m map[string]any, k, v string) map[string]any {
	md := m["metadata"].(map[string]any)
	anns, _ := md["annotations"].(map[string]any)
	if anns == nil {
		anns = map[string]any{}
		md["annotations"] = anns
	}
	anns[k] = v
	return m
}

func assertProblems(t *testing.T, got []*Problem, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		var lines []string
		for _, p := range got {
			lines = append(lines, fmt.Sprintf("  [%s] %v", p.Check, p))
		}
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(wants), strings.Join(lines, "\n"))
	}
	for i, w := range wants {
		p := got[i]
		if p.Check != w.check || p.Field != w.field || !strings.Contains(p.Msg, w.msg) {
			t.Errorf("problem %d = [%s] field %q msg %q; want [%s] field %q msg containing %q", i, p.Check, p.Field, p.Msg, w.check, w.field, w.msg)
		}
	}
}

// TestDuplicateFields decodes raw JSON: a map cannot hold duplicates, but
// the strict decoder must reject them wherever bytes come from.
func TestDuplicateFields(t *testing.T) {
	reg := decoders()
	for _, tc := range []struct {
		gvk   schema.GroupVersionKind
		data  string
		field string
	}{
		{schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"},
			`{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","name":"b"}}`, "metadata.name"},
		{schema.GroupVersionKind{Group: "external-secrets.io", Version: "v1", Kind: "SecretStore"},
			`{"apiVersion":"external-secrets.io/v1","kind":"SecretStore","metadata":{"name":"s"},"spec":{"provider":{"aws":{"service":"SecretsManager","region":"a","region":"b"}}}}`,
			"spec.provider.aws.region"},
		{schema.GroupVersionKind{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"},
			`{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","metadata":{"name":"h"},"spec":{"interval":"1m","interval":"2m"}}`, "spec.interval"},
	} {
		c := &objectCheck{region: "r", component: "c", ref: tc.gvk.Kind, obj: map[string]any{}}
		if typed := c.decode(reg.kinds[tc.gvk], tc.gvk.GroupVersion().String(), tc.gvk.Kind, []byte(tc.data)); typed != nil {
			t.Errorf("%s: duplicate field accepted", tc.gvk.Kind)
		}
		assertProblems(t, c.problems, []want{{CheckSchema, tc.field, "duplicate field"}})
	}
}

func TestProblemError(t *testing.T) {
	p := &Problem{Region: "us-east-2", Component: "coder", Object: "Deployment/coder/coder", Field: "spec.replicas", Msg: "wrong type", Hint: "use a number"}
	want := "region us-east-2, component coder, object Deployment/coder/coder, field spec.replicas: wrong type (hint: use a number)"
	if got := p.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	p = &Problem{File: "regions/x/aws/records.yaml", Line: 7, Field: "records[a].value", Msg: "m"}
	if got, want := p.Error(), "regions/x/aws/records.yaml:7: field records[a].value: m"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestObjectsIsDeterministic(t *testing.T) {
	bad := func() []Object {
		return []Object{
			{"a", obj(t, goodDeployment, "spec.template.spec.containers.0.image=x:latest", "spec.template.spec.containers.0.securityContext-",
				"spec.template.spec.containers.0.env.0.value=postgres://u:p4ss@db/x?token=abc", "spec.template.spec.containers.0.foo=1", "spec.bar=2")},
			{"b", obj(t, goodExternalSecret, "spec.data.0.remoteRef.key-", "spec.target.creationPolicy=X")},
		}
	}
	first := Objects("r", bad(), Options{})
	for i := 0; i < 20; i++ {
		if got := Objects("r", bad(), Options{}); !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d differs:\n%v\nvs\n%v", i, got, first)
		}
	}
	if len(first) < 4 {
		t.Fatalf("expected several problems, got %v", first)
	}
}
