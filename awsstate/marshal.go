package awsstate

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Marshal writes a File in the canonical layout: apiVersion, kind, fleet,
// region, hostedZone (records only) and the list, two-space indented with
// sorted tag keys.
func Marshal(f File) ([]byte, error) {
	h := header{APIVersion: APIVersion, Kind: f.Kind, Fleet: f.Fleet, Region: f.Region}
	var doc any
	switch f.Kind {
	case KindCertificateList:
		doc = certificateList{h, nonNil(f.Certificates)}
	case KindHealthCheckList:
		doc = healthCheckList{h, nonNil(f.HealthChecks)}
	case KindRecordList:
		doc = recordList{h, f.HostedZone, nonNil(f.Records)}
	case KindRoleList:
		doc = roleList{h, nonNil(f.Roles)}
	case KindSecretList:
		doc = secretList{h, nonNil(f.Secrets)}
	case KindWorkspaceProxyList:
		doc = workspaceProxyList{h, nonNil(f.WorkspaceProxies)}
	case KindProvisionerKeyList:
		doc = provisionerKeyList{h, nonNil(f.ProvisionerKeys)}
	default:
		return nil, fmt.Errorf("unknown kind %q", f.Kind)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", f.Kind, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", f.Kind, err)
	}
	return buf.Bytes(), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
