package render

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"
)

const (
	annotationSSLPorts = "service.beta.kubernetes.io/aws-load-balancer-ssl-ports"
	annotationSSLCert  = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"
)

// pendingCertificates warns about load balancer Services that terminate TLS
// but have no certificate ARN yet: the NLB would come up without one.
func pendingCertificates(region string, tree Tree) []string {
	var out []string
	for _, p := range tree.Paths() {
		data := tree[p]
		if !bytes.Contains(data, []byte(annotationSSLPorts)) || bytes.Contains(data, []byte(annotationSSLCert)) {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil || str(m, "kind") != "Service" {
			continue
		}
		out = append(out, fmt.Sprintf("region %s: Service %s/%s has no ACM certificate yet; run `coderfleet sync apply --region %s` to issue it, then render again before committing",
			region, str(m, "metadata", "namespace"), str(m, "metadata", "name"), region))
	}
	return out
}
