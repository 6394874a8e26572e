// Package jsonout holds what every `-o json` document of coderfleet shares
// (docs/json.md): the schema version naming, the resource address shape,
// the encoder, and the error document with its diagnostics.
//
// Every document is one JSON object with "schemaVersion"
// ("coderfleet.io/<verb>/v<N>"), "summary" (integer counts, or objects of
// integer counts) and the verb's data. A schema version changes only when a
// key is removed or changes meaning; keys may be added within a version.
package jsonout

import (
	"bytes"
	"encoding/json"
	"io"
)

// Schema returns the schema version of verb's JSON document at version 1:
// "coderfleet.io/<verb>/v1". verb is lower-case words joined by '-', such
// as "sync-plan".
func Schema(verb string) string { return "coderfleet.io/" + verb + "/v1" }

// Kinds of resource addresses; they match the AWS desired state's own
// names (regions/<region>/aws/*.yaml).
const (
	KindCertificate = "certificate"
	KindHealthCheck = "health-check"
	KindRecord      = "record"
	// KindRole is an IAM role (roles.yaml); its ID is the role's ARN.
	KindRole = "iam-role"
	// KindSecret is a Secrets Manager secret (secrets.yaml); its ID is the
	// secret's ARN.
	KindSecret = "secret"
	// KindWorkspaceProxy is a Coder workspace proxy (workspaceproxies.yaml);
	// its ID is the proxy's ID in coderd.
	KindWorkspaceProxy = "workspace-proxy"
	// KindProvisionerKey is a Coder provisioner key (provisionerkeys.yaml),
	// named "<organization>/<name>"; its ID is the key's ID in coderd.
	KindProvisionerKey = "provisioner-key"
)

// FleetScope is the region segment of the address of a resource that
// belongs to the whole fleet rather than one region (the registry record).
const FleetScope = "*"

// Resource addresses an AWS object coderfleet manages, the same way in
// every document: Address is "<region>/<kind>/<name>" (split it at the
// first two '/'; a name may hold spaces and brackets), ID the AWS
// identifier once it exists.
type Resource struct {
	// Address is Region (or FleetScope), Kind and Name joined by '/'.
	Address string `json:"address"`
	// Region is the region folder the object belongs to; null for an
	// object of the whole fleet.
	Region *string `json:"region"`
	// Kind is KindCertificate, KindHealthCheck, KindRecord, KindRole,
	// KindSecret, KindWorkspaceProxy or KindProvisionerKey.
	Kind string `json:"kind"`
	// Name is the object's name in the desired state: a certificate's or
	// health check's name, a record's "name TYPE [setIdentifier]".
	Name string `json:"name"`
	// ID is a certificate's ARN or a health check's ID; null when the
	// object does not exist yet, and for records (Route53 gives records no
	// identifier of their own: name, type and set identifier are theirs).
	ID *string `json:"id"`
}

// NewResource builds the Resource of kind and name in region ("" for the
// whole fleet) with AWS identifier id ("" when not known).
func NewResource(region, kind, name, id string) Resource {
	r := Resource{Kind: kind, Name: name}
	scope := FleetScope
	if region != "" {
		r.Region, scope = &region, region
	}
	r.Address = scope + "/" + kind + "/" + name
	if id != "" {
		r.ID = &id
	}
	return r
}

// Encode writes v as one indented JSON document (two spaces, '<', '>' and
// '&' unescaped) followed by a newline. Map keys are sorted by
// encoding/json, so equal values give equal bytes.
func Encode(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
