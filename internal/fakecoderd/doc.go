// Package fakecoderd is a stateful fake of the parts of coderd that
// coderfleet's sync and status use, served on a loopback httptest server.
//
// It enforces the rules of Coder's published API reference and of coderd's
// handlers as coderfleet relies on them (sources: coder/coder
// docs/reference/api/enterprise.md, docs/reference/api/organizations.md,
// docs/reference/api/provisioning.md, enterprise/coderd/workspaceproxy.go,
// enterprise/coderd/provisionerkeys.go, enterprise/coderd/coderd.go and
// coderd/httpmw):
//
//   - the Coder-Session-Token header: 401 when missing or unknown; 403 for
//     the member token on the owner-only routes (workspace proxies and
//     provisioner keys);
//   - 403 "Workspace Proxy is a Premium feature. Contact sales!" on every
//     /api/v2/workspaceproxies route without Premium, checked before the
//     token as coderd does; provisioner keys answer the same way for
//     "External Provisioner Daemons" after the organization is found;
//   - workspace proxies: the list wrapped as {"regions": [...]} with the
//     primary region first (name "primary", status ok); a new proxy is
//     "unregistered"; 400 with validations for an empty or "primary" name and
//     for a PATCH without name, display_name or icon; 409 for a duplicate
//     name (case-insensitive); 404 for an unknown ID or name; the primary
//     cannot be renamed or deleted;
//   - proxy tokens "<proxy id>:<64 hex>" returned once; coderd keeps only a
//     hash; regenerate_token replaces it, so the old token stops working;
//     POST /api/v2/workspaceproxies/me/register with the token in the
//     Coder-External-Proxy-Token header (401 otherwise) marks the proxy
//     registered and healthy (status ok);
//   - organizations by name, UUID or "default"; 404 for an unknown one;
//   - provisioner keys per organization: 400 with validations for an empty
//     name, a name over 64 characters or a reserved one (built-in,
//     user-auth, psk, case-insensitive); 409 for a duplicate name in the
//     organization (case-insensitive); 404 on deleting an unknown one; a
//     43-character secret returned once; GET /api/v2/provisionerkeys/{key}
//     with the Coder-Provisioner-Daemon-Key header answers 200 for a live
//     key only (401 missing or unknown, 400 malformed);
//   - provisioner daemons listed by organization and filtered by
//     ?tags={json}: a daemon matches when its tags include every pair.
//
// Tests drive state the API cannot (a proxy's health, a connected daemon)
// through methods on Server, and read what was called with Requests and
// MutatingRequests, which record method and path only: never bodies,
// headers or tokens.
package fakecoderd
