package sync

import (
	"bytes"
	"io/fs"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

// AnnotationSSLCert is the Service annotation through which the AWS Load
// Balancer Controller gives an NLB's TLS listener its ACM certificate
// (AWS Load Balancer Controller documentation, "Service annotations").
const AnnotationSSLCert = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"

// committedService is what status needs of a Service rendered into
// regions/<region>/.
type committedService struct {
	// File is the slash-separated path of the rendered file.
	File string
	// CertARN is the value of AnnotationSSLCert; empty without it.
	CertARN string
}

// readCommittedServices returns the Services rendered into regions/<region>/
// (outside aws/) by "namespace/name". Files that do not parse as YAML are
// left out: check and render report them.
func readCommittedServices(repo fs.FS, region string) map[string]committedService {
	out := map[string]committedService{}
	root := path.Join("regions", region)
	_ = fs.WalkDir(repo, root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // a missing folder has no Services
		}
		if e.IsDir() {
			if p == path.Join(root, "aws") {
				return fs.SkipDir
			}
			return nil
		}
		// render.FileName names an object's file <kind>-<namespace>-<name>.yaml:
		// only service-*.yaml can hold a Service.
		if !strings.HasPrefix(e.Name(), "service-") || !strings.HasSuffix(p, ".yaml") {
			return nil
		}
		data, err := fs.ReadFile(repo, p)
		if err != nil || !bytes.Contains(data, []byte("kind: Service\n")) {
			return nil
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var obj struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Name        string            `yaml:"name"`
					Namespace   string            `yaml:"namespace"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"metadata"`
			}
			if dec.Decode(&obj) != nil {
				return nil
			}
			if obj.Kind == "Service" && obj.Metadata.Name != "" {
				out[obj.Metadata.Namespace+"/"+obj.Metadata.Name] = committedService{File: p, CertARN: obj.Metadata.Annotations[AnnotationSSLCert]}
			}
		}
	})
	return out
}

// certificateService returns the Service ("namespace/name") that serves the
// certificate c of region r: the one the region's records for c's domain
// name alias, or "" when no record has that name.
func certificateService(r RegionState, domainName string) string {
	for _, rec := range r.Records {
		if normName(rec.Name) == normName(domainName) && rec.Alias.Service != "" {
			return rec.Alias.Service
		}
	}
	return ""
}
