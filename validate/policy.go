package validate

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/coderfleet/coderfleet/internal/awsrules"
)

// IRSAAnnotation is the ServiceAccount annotation EKS reads to give a pod an
// IAM role (IAM roles for service accounts).
const IRSAAnnotation = "eks.amazonaws.com/role-arn"

// podTemplate locates the pod spec of a workload.
type podTemplate struct {
	spec        *corev1.PodSpec
	path        string // field path of the pod spec
	longRunning bool   // probes required
}

func podTemplateOf(obj any) *podTemplate {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &podTemplate{&o.Spec.Template.Spec, "spec.template.spec", true}
	case *appsv1.StatefulSet:
		return &podTemplate{&o.Spec.Template.Spec, "spec.template.spec", true}
	case *appsv1.DaemonSet:
		return &podTemplate{&o.Spec.Template.Spec, "spec.template.spec", true}
	case *appsv1.ReplicaSet:
		return &podTemplate{&o.Spec.Template.Spec, "spec.template.spec", true}
	case *corev1.ReplicationController:
		if o.Spec.Template == nil {
			return nil
		}
		return &podTemplate{&o.Spec.Template.Spec, "spec.template.spec", true}
	case *corev1.Pod:
		rp := o.Spec.RestartPolicy
		return &podTemplate{&o.Spec, "spec", rp == "" || rp == corev1.RestartPolicyAlways}
	case *batchv1.Job:
		return &podTemplate{&o.Spec.Template.Spec, "spec.template.spec", false}
	case *batchv1.CronJob:
		return &podTemplate{&o.Spec.JobTemplate.Spec.Template.Spec, "spec.jobTemplate.spec.template.spec", false}
	}
	return nil
}

// policies runs the pod-level policies on a strictly decoded object.
func (c *objectCheck) policies(typed any) {
	if svc, ok := typed.(*corev1.Service); ok {
		c.sslPorts(svc)
	}
	pt := podTemplateOf(typed)
	if pt == nil {
		return
	}
	for _, list := range []struct {
		field      string
		containers []corev1.Container
		probes     bool
	}{
		{"initContainers", pt.spec.InitContainers, false},
		{"containers", pt.spec.Containers, pt.longRunning},
	} {
		for i := range list.containers {
			ct := &list.containers[i]
			name := ct.Name
			if name == "" {
				name = fmt.Sprint(i)
			}
			c.container(pt, fmt.Sprintf("%s.%s[%s]", pt.path, list.field, name), ct, list.probes)
		}
	}
}

func (c *objectCheck) container(pt *podTemplate, path string, ct *corev1.Container, probes bool) {
	c.image(path+".image", ct.Image)
	// The API server refuses these; catch them before anything is written.
	for _, p := range ct.Ports {
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			name := p.Name
			if name == "" {
				name = strconv.Itoa(int(p.ContainerPort))
			}
			c.add(CheckSchema, path+".ports["+name+"].containerPort", "a port is a number from 1 to 65535",
				"container %q has port %d, outside 1-65535", ct.Name, p.ContainerPort)
		}
	}

	var missing []string
	for _, rl := range []struct {
		name string
		list corev1.ResourceList
	}{{"requests", ct.Resources.Requests}, {"limits", ct.Resources.Limits}} {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := rl.list[r]; !ok || q.IsZero() {
				missing = append(missing, rl.name+"."+string(r))
			}
		}
	}
	if len(missing) > 0 {
		c.add(CheckResources, path+".resources", "set requests and limits for cpu and memory so the scheduler can place the pod and one container cannot starve a node",
			"container %q has no %s", ct.Name, strings.Join(missing, ", "))
	}
	// The API server refuses a request above its limit ("must be less than
	// or equal to ... limit", Kubernetes API: ResourceRequirements), so an
	// overlay patch or a template that raises one must fail here, wherever
	// the configuration's own check could not see it.
	for _, r := range slices.Sorted(maps.Keys(ct.Resources.Requests)) {
		req := ct.Resources.Requests[r]
		if lim, ok := ct.Resources.Limits[r]; ok && req.Cmp(lim) > 0 {
			c.add(CheckResources, path+".resources.requests."+string(r), "a request may not exceed its limit: lower the request or raise the limit (in the setting, the template or the overlay patch that set it)",
				"container %q requests %s %s, above its limit %s", ct.Name, req.String(), r, lim.String())
		}
	}

	sc := ct.SecurityContext
	psc := pt.spec.SecurityContext
	nonRoot := sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot
	if sc == nil || sc.RunAsNonRoot == nil {
		nonRoot = psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	}
	if !nonRoot {
		c.add(CheckRunAsNonRoot, path+".securityContext.runAsNonRoot", "set runAsNonRoot: true in the container's or the pod's securityContext",
			"container %q may run as root", ct.Name)
	}
	var uid *int64
	if psc != nil && psc.RunAsUser != nil {
		uid = psc.RunAsUser
	}
	if sc != nil && sc.RunAsUser != nil {
		uid = sc.RunAsUser
	}
	if uid != nil && *uid == 0 {
		c.add(CheckRunAsNonRoot, path+".securityContext.runAsUser", "run as a non-zero user id (the image's user, e.g. 1000)",
			"container %q runs as user 0 (root)", ct.Name)
	}

	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		c.add(CheckPrivilegeEscalation, path+".securityContext.allowPrivilegeEscalation", "set allowPrivilegeEscalation: false in the container's securityContext",
			"container %q allows privilege escalation", ct.Name)
	}
	if sc != nil && sc.Privileged != nil && *sc.Privileged {
		c.add(CheckPrivilegeEscalation, path+".securityContext.privileged", "remove privileged: true; grant single capabilities if really needed",
			"container %q is privileged", ct.Name)
	}

	if probes {
		if ct.ReadinessProbe == nil {
			c.add(CheckProbes, path+".readinessProbe", "add a readinessProbe so traffic only reaches ready pods and rollouts wait for them",
				"long-running container %q has no readinessProbe", ct.Name)
		}
		if ct.LivenessProbe == nil {
			c.add(CheckProbes, path+".livenessProbe", "add a livenessProbe so a hung process is restarted",
				"long-running container %q has no livenessProbe", ct.Name)
		}
	}
}

// image requires a pinned reference: a tag other than latest, or a digest.
func (c *objectCheck) image(path, image string) {
	if image == "" {
		c.add(CheckImageTag, path, "set image to repository:tag with a pinned version", "no image")
		return
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		c.add(CheckImageTag, path, "write registry/repository:tag or repository@sha256:digest", "invalid image reference %q: %v", image, err)
		return
	}
	if _, ok := named.(reference.Digested); ok {
		return
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		c.add(CheckImageTag, path, "pin a version tag such as :v2.26.3 (or a digest); an untagged image means :latest", "image %q has no tag", image)
		return
	}
	if strings.EqualFold(tagged.Tag(), "latest") {
		c.add(CheckImageTag, path, "pin a version tag such as :v2.26.3 (or a digest) so a render always means the same software", "image %q uses the latest tag", image)
	}
}

// irsa checks the IRSA annotation wherever it appears.
func (c *objectCheck) irsa() {
	anns, _ := mapAt(c.obj, "metadata", "annotations")
	raw, present := anns[IRSAAnnotation]
	if !present {
		return
	}
	field := "metadata.annotations" + keySegment(IRSAAnnotation, false)
	if kind := str(c.obj, "kind"); kind != "ServiceAccount" {
		c.add(CheckIRSA, field, "put the annotation on the ServiceAccount the pod runs as", "%s only has an effect on a ServiceAccount, not on a %s", IRSAAnnotation, kind)
	}
	v, _ := raw.(string)
	if msg := checkRoleARN(v); msg != "" {
		c.add(CheckIRSA, field, "write arn:aws:iam::<12-digit account>:role/<name> (the role whose trust policy names system:serviceaccount:<namespace>:<name>)", "%s", msg)
	}
}

// checkRoleARN returns why s is not an IAM role ARN, or "".
func checkRoleARN(s string) string {
	if err := awsrules.IAMRoleARN(s); err != nil {
		return err.Error()
	}
	return ""
}

// loadBalancer checks the values a Service's AWS Load Balancer Controller
// annotations hand to Elastic Load Balancing (see internal/awsrules): the
// certificate must be in the region's AWS region and the fleet's account,
// the closed value sets, the name, the attributes and the tags.
func (c *objectCheck) loadBalancer(awsRegion, account string) {
	if str(c.obj, "kind") != "Service" {
		return
	}
	anns, _ := mapAt(c.obj, "metadata", "annotations")
	for _, k := range slices.Sorted(maps.Keys(anns)) {
		v, _ := anns[k].(string)
		if !strings.HasPrefix(k, awsrules.AnnotationPrefix) {
			continue
		}
		if err := awsrules.ServiceAnnotation(k, v, awsRegion, account); err != nil {
			c.add(CheckAWSLimit, "metadata.annotations"+keySegment(k, false), awsrules.HintOf(err), "%s", err.Error())
		}
	}
}

func mapAt(m map[string]any, keys ...string) (map[string]any, bool) {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur = mm[k]
	}
	mm, ok := cur.(map[string]any)
	return mm, ok
}

// SSLPortsAnnotation lists the ports of a LoadBalancer Service on which the
// AWS Load Balancer Controller opens TLS listeners: port numbers or names,
// comma-separated, or "*" for all (kubernetes-sigs.github.io/aws-load-balancer-controller,
// "Service annotations", TLS).
const SSLPortsAnnotation = "service.beta.kubernetes.io/aws-load-balancer-ssl-ports"

// sslPorts refuses an ssl-ports annotation naming a port the Service does
// not expose: the controller would then open no TLS listener, and the load
// balancer would serve the other ports as plain TCP, unencrypted.
func (c *objectCheck) sslPorts(svc *corev1.Service) {
	v, ok := svc.Annotations[SSLPortsAnnotation]
	if !ok {
		return
	}
	var exposed []string
	have := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		have[strconv.Itoa(int(p.Port))] = true
		exposed = append(exposed, strconv.Itoa(int(p.Port)))
		if p.Name != "" {
			have[p.Name] = true
			exposed[len(exposed)-1] += " (" + p.Name + ")"
		}
	}
	for _, want := range strings.Split(v, ",") {
		want = strings.TrimSpace(want)
		if want == "*" || have[want] {
			continue
		}
		c.add(CheckLoadBalancer, `metadata.annotations["`+SSLPortsAnnotation+`"]`,
			"list only ports of spec.ports (by number or name) in the annotation, or expose the port: TLS terminates only on the listed ports",
			"%s names port %q, which the Service does not expose (it exposes %s); the AWS Load Balancer Controller would open no TLS listener for it and the load balancer would serve plain TCP (AWS Load Balancer Controller, Service annotations: TLS)",
			SSLPortsAnnotation, want, strings.Join(exposed, ", "))
	}
}
