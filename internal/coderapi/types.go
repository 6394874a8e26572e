package coderapi

import (
	"fmt"
	"time"
)

// Response is the body coderd sends with every error and with some
// successes (a delete's confirmation): a human message, an optional detail
// and per-field validation problems. Source: docs/reference/api/schemas.md,
// codersdk.Response.
type Response struct {
	Message     string            `json:"message"`
	Detail      string            `json:"detail,omitempty"`
	Validations []ValidationError `json:"validations,omitempty"`
}

// ValidationError is one field-level problem of a request coderd refused
// with 400, e.g. {field: "name", detail: "Reserved name"}. Source:
// docs/reference/api/schemas.md, codersdk.ValidationError.
type ValidationError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// ProxyHealthStatus is coderd's verdict on a workspace proxy from its last
// health check. Source: docs/reference/api/schemas.md,
// codersdk.ProxyHealthStatus.
type ProxyHealthStatus string

// The health states coderd reports for a workspace proxy
// (docs/reference/api/schemas.md, codersdk.ProxyHealthStatus). coderd's
// handler (enterprise/coderd/workspaceproxy.go) also reports "unknown" for a
// proxy it has not checked yet.
const (
	// ProxyHealthy: the proxy's access URL answered its health check.
	ProxyHealthy ProxyHealthStatus = "ok"
	// ProxyUnreachable: the proxy's access URL did not answer.
	ProxyUnreachable ProxyHealthStatus = "unreachable"
	// ProxyUnhealthy: the proxy answered but reported problems.
	ProxyUnhealthy ProxyHealthStatus = "unhealthy"
	// ProxyUnregistered: the proxy exists in coderd but no proxy process has
	// registered with its token yet (the state right after creation).
	ProxyUnregistered ProxyHealthStatus = "unregistered"
	// ProxyUnknown: coderd has no health result for the proxy yet.
	ProxyUnknown ProxyHealthStatus = "unknown"
)

// ProxyHealthReport lists the errors and warnings of a proxy's last health
// check. Source: docs/reference/api/schemas.md, codersdk.ProxyHealthReport.
type ProxyHealthReport struct {
	Errors   []string `json:"errors"`
	Warnings []string `json:"warnings"`
}

// WorkspaceProxyStatus is the latest health check of a workspace proxy.
// Source: docs/reference/api/schemas.md, codersdk.WorkspaceProxyStatus.
type WorkspaceProxyStatus struct {
	Status    ProxyHealthStatus `json:"status"`
	Report    ProxyHealthReport `json:"report"`
	CheckedAt time.Time         `json:"checked_at"`
}

// Region is the part of a workspace proxy users see in Coder's region
// picker. Source: docs/reference/api/schemas.md, codersdk.Region.
type Region struct {
	// ID is the proxy's UUID; the primary's is the deployment ID.
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	IconURL     string `json:"icon_url"`
	// Healthy is true when the last health check said ok.
	Healthy bool `json:"healthy"`
	// PathAppURL is the access URL the proxy registered; empty until then.
	PathAppURL       string `json:"path_app_url"`
	WildcardHostname string `json:"wildcard_hostname"`
}

// PrimaryProxyName is the name coderd gives its own built-in region in the
// workspace proxy list, and the name it refuses for a new proxy
// (enterprise/coderd/workspaceproxy.go: postWorkspaceProxy).
const PrimaryProxyName = "primary"

// WorkspaceProxy is one entry of GET /api/v2/workspaceproxies: a region plus
// its health and lifecycle fields. Source: docs/reference/api/enterprise.md
// ("Get workspace proxies") and docs/reference/api/schemas.md,
// codersdk.WorkspaceProxy.
type WorkspaceProxy struct {
	Region
	DerpEnabled bool                 `json:"derp_enabled"`
	DerpOnly    bool                 `json:"derp_only"`
	Status      WorkspaceProxyStatus `json:"status"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
	Deleted     bool                 `json:"deleted"`
	// Version is the coder version the proxy registered with; empty until
	// it registers.
	Version string `json:"version"`
}

// IsPrimary reports whether p is coderd's built-in primary region. The API
// has no flag for it; coderd lists the primary first under the reserved
// name "primary" (enterprise/coderd/workspaceproxy.go: fetchWorkspaceProxies).
func (p WorkspaceProxy) IsPrimary() bool { return p.Name == PrimaryProxyName }

// Registered reports whether a proxy process has registered with coderd,
// i.e. coderd's status is anything but "unregistered".
func (p WorkspaceProxy) Registered() bool { return p.Status.Status != ProxyUnregistered }

// RegionsResponse wraps the list answered by GET /api/v2/workspaceproxies:
// {"regions": [...]}. Source: docs/reference/api/enterprise.md ("Get
// workspace proxies": codersdk.RegionsResponse-codersdk_WorkspaceProxy).
type RegionsResponse struct {
	Regions []WorkspaceProxy `json:"regions"`
}

// CreateWorkspaceProxyRequest is the body of POST /api/v2/workspaceproxies.
// Name is required and may not be "primary". Source:
// docs/reference/api/schemas.md, codersdk.CreateWorkspaceProxyRequest.
type CreateWorkspaceProxyRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Icon        string `json:"icon"`
}

// PatchWorkspaceProxy is the body of PATCH /api/v2/workspaceproxies/{id}.
// coderd requires Name, DisplayName and Icon to be non-empty (400
// "Validation failed." otherwise); RegenerateToken issues a new proxy token
// and invalidates the old one. Source: docs/reference/api/schemas.md,
// codersdk.PatchWorkspaceProxy.
type PatchWorkspaceProxy struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	DisplayName     string `json:"display_name"`
	Icon            string `json:"icon"`
	RegenerateToken bool   `json:"regenerate_token"`
}

// UpdateWorkspaceProxyResponse is the answer to creating (201) or patching
// (200) a workspace proxy. ProxyToken is the proxy's one-time token
// ("<proxy id>:<secret>"): set on create and on a patch with
// regenerate_token, empty otherwise. coderd stores only its hash; it cannot
// be read again. Source: docs/reference/api/schemas.md,
// codersdk.UpdateWorkspaceProxyResponse.
type UpdateWorkspaceProxyResponse struct {
	Proxy      WorkspaceProxy `json:"proxy"`
	ProxyToken string         `json:"proxy_token"`
}

// String prints the proxy's name and ID and whether a token came back,
// never the token itself.
func (r UpdateWorkspaceProxyResponse) String() string {
	return fmt.Sprintf("workspace proxy %q (%s), token %s", r.Proxy.Name, r.Proxy.ID, redactedOrNone(r.ProxyToken))
}

// GoString is String, so %#v cannot print the token either.
func (r UpdateWorkspaceProxyResponse) GoString() string { return r.String() }

// RegisterWorkspaceProxyRequest is the body a workspace proxy process sends
// to POST /api/v2/workspaceproxies/me/register, authenticated by its proxy
// token in the Coder-External-Proxy-Token header. coderd requires an http(s)
// AccessURL with an empty path and a non-nil ReplicaID. Source: coderd's
// handler enterprise/coderd/workspaceproxy.go (workspaceProxyRegister; the
// route is left out of the generated reference).
type RegisterWorkspaceProxyRequest struct {
	AccessURL           string `json:"access_url"`
	WildcardHostname    string `json:"wildcard_hostname"`
	DerpEnabled         bool   `json:"derp_enabled"`
	DerpOnly            bool   `json:"derp_only"`
	ReplicaID           string `json:"replica_id"`
	ReplicaHostname     string `json:"replica_hostname"`
	ReplicaError        string `json:"replica_error"`
	ReplicaRelayAddress string `json:"replica_relay_address"`
	Version             string `json:"version"`
}

// Organization is one Coder organization. Source:
// docs/reference/api/organizations.md ("Get organization by ID") and
// docs/reference/api/schemas.md, codersdk.Organization.
type Organization struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Description string    `json:"description"`
	Icon        string    `json:"icon"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	IsDefault   bool      `json:"is_default"`
}

// ReservedProvisionerKeyNames are the names coderd keeps for its own
// provisioner keys and refuses (case-insensitively, 400) for a new one.
// Source: codersdk/provisionerdaemons.go (ReservedProvisionerKeyNames) and
// enterprise/coderd/provisionerkeys.go.
var ReservedProvisionerKeyNames = []string{"built-in", "user-auth", "psk"}

// MaxProvisionerKeyNameLen is the longest provisioner key name coderd
// accepts (enterprise/coderd/provisionerkeys.go: postProvisionerKey).
const MaxProvisionerKeyNameLen = 64

// ProvisionerKey is one provisioner key of an organization, without its
// secret (coderd never returns it after creation). Source:
// docs/reference/api/enterprise.md ("List provisioner key") and
// docs/reference/api/schemas.md, codersdk.ProvisionerKey.
type ProvisionerKey struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// OrganizationID is the owning organization's UUID; Coder names the
	// field "organization".
	OrganizationID string            `json:"organization"`
	Name           string            `json:"name"`
	Tags           map[string]string `json:"tags"`
}

// CreateProvisionerKeyRequest is the body of POST
// /api/v2/organizations/{organization}/provisionerkeys. Tags are fixed at
// creation: the API has no update. Source: docs/reference/api/schemas.md,
// codersdk.CreateProvisionerKeyRequest.
type CreateProvisionerKeyRequest struct {
	Name string            `json:"name"`
	Tags map[string]string `json:"tags"`
}

// CreateProvisionerKeyResponse is the 201 answer to creating a provisioner
// key: the key's one-time secret, which a provisioner daemon presents in the
// Coder-Provisioner-Daemon-Key header. Source: docs/reference/api/schemas.md,
// codersdk.CreateProvisionerKeyResponse.
type CreateProvisionerKeyResponse struct {
	Key string `json:"key"`
}

// String says whether a key came back, never the key.
func (r CreateProvisionerKeyResponse) String() string {
	return "provisioner key secret " + redactedOrNone(r.Key)
}

// GoString is String, so %#v cannot print the key either.
func (r CreateProvisionerKeyResponse) GoString() string { return r.String() }

// ProvisionerDaemonStatus is a provisioner daemon's state. Source:
// docs/reference/api/schemas.md, codersdk.ProvisionerDaemonStatus.
type ProvisionerDaemonStatus string

// The provisioner daemon states (docs/reference/api/schemas.md,
// codersdk.ProvisionerDaemonStatus).
const (
	ProvisionerDaemonOffline ProvisionerDaemonStatus = "offline"
	ProvisionerDaemonIdle    ProvisionerDaemonStatus = "idle"
	ProvisionerDaemonBusy    ProvisionerDaemonStatus = "busy"
)

// ProvisionerDaemonJob names a daemon's current or previous job. Source:
// docs/reference/api/schemas.md, codersdk.ProvisionerDaemonJob.
type ProvisionerDaemonJob struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// ProvisionerDaemon is one entry of GET
// /api/v2/organizations/{organization}/provisionerdaemons. Source:
// docs/reference/api/provisioning.md ("Get provisioner daemons") and
// docs/reference/api/schemas.md, codersdk.ProvisionerDaemon.
type ProvisionerDaemon struct {
	ID             string            `json:"id"`
	OrganizationID string            `json:"organization_id"`
	KeyID          string            `json:"key_id"`
	CreatedAt      time.Time         `json:"created_at"`
	LastSeenAt     *time.Time        `json:"last_seen_at,omitempty"`
	Name           string            `json:"name"`
	Version        string            `json:"version"`
	APIVersion     string            `json:"api_version"`
	Provisioners   []string          `json:"provisioners"`
	Tags           map[string]string `json:"tags"`
	// KeyName is the provisioner key the daemon authenticated with.
	KeyName     *string                  `json:"key_name"`
	Status      *ProvisionerDaemonStatus `json:"status"`
	CurrentJob  *ProvisionerDaemonJob    `json:"current_job"`
	PreviousJob *ProvisionerDaemonJob    `json:"previous_job"`
}

// BuildInfo is GET /api/v2/buildinfo, which needs no token. Source:
// docs/reference/api/general.md ("Build info") and
// docs/reference/api/schemas.md, codersdk.BuildInfoResponse.
type BuildInfo struct {
	ExternalURL  string `json:"external_url"`
	Version      string `json:"version"`
	DashboardURL string `json:"dashboard_url"`
	Telemetry    bool   `json:"telemetry"`
	// WorkspaceProxy is true when the answering server is itself a
	// workspace proxy rather than coderd.
	WorkspaceProxy        bool   `json:"workspace_proxy"`
	AgentAPIVersion       string `json:"agent_api_version"`
	ProvisionerAPIVersion string `json:"provisioner_api_version"`
	UpgradeMessage        string `json:"upgrade_message"`
	DeploymentID          string `json:"deployment_id"`
}

func redactedOrNone(secret string) string {
	if secret == "" {
		return "(none)"
	}
	return "(redacted)"
}
