package fakecoderd

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/coderfleet/coderfleet/internal/coderapi"
)

// Answers whose wording coderfleet's hints and the contract suite rely on.
const (
	msgProxyPremium = "Workspace Proxy is a Premium feature. Contact sales!"
	msgKeysPremium  = "External Provisioner Daemons is a Premium feature. Contact sales!"
	msgNotFound     = "Resource not found or you do not have access to this resource"
	msgForbidden    = "Forbidden."
)

type role int

const (
	roleNone role = iota
	roleMember
	roleOwner
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	shown := r.URL.Path
	if len(seg) == 4 && seg[0] == "api" && seg[1] == "v2" && seg[2] == "provisionerkeys" {
		shown = "/api/v2/provisionerkeys/{key}"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: shown})

	if len(seg) < 3 || seg[0] != "api" || seg[1] != "v2" {
		routeNotFound(w)
		return
	}
	switch rest := seg[2:]; rest[0] {
	case "buildinfo":
		if len(rest) == 1 && r.Method == http.MethodGet {
			writeJSON(w, http.StatusOK, coderapi.BuildInfo{
				Version: s.opts.Version, ExternalURL: "https://github.com/coder/coder", DeploymentID: s.deployment,
				AgentAPIVersion: "2.0", ProvisionerAPIVersion: "1.0",
			})
			return
		}
	case "workspaceproxies":
		if !s.opts.Premium {
			writeMsg(w, http.StatusForbidden, msgProxyPremium, "")
			return
		}
		s.workspaceProxies(w, r, rest[1:])
		return
	case "organizations":
		if len(rest) >= 2 {
			s.organizations(w, r, rest[1], rest[2:])
			return
		}
	case "provisionerkeys":
		if len(rest) == 2 && r.Method == http.MethodGet {
			s.provisionerKeyByToken(w, r)
			return
		}
	}
	routeNotFound(w)
}

// auth checks the session token: 401 when it is missing or unknown.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) (role, bool) {
	tok := r.Header.Get(coderapi.SessionTokenHeader)
	switch {
	case tok == "":
		writeMsg(w, http.StatusUnauthorized, "Not signed in: the request has no session token.",
			"Send an API token in the "+coderapi.SessionTokenHeader+" header.")
		return roleNone, false
	case equal(tok, s.opts.OwnerToken):
		return roleOwner, true
	case s.opts.MemberToken != "" && equal(tok, s.opts.MemberToken):
		return roleMember, true
	}
	writeMsg(w, http.StatusUnauthorized, "The session token is not valid.", "It is unknown, expired or deleted.")
	return roleNone, false
}

func (s *Server) workspaceProxies(w http.ResponseWriter, r *http.Request, rest []string) {
	if len(rest) == 2 && rest[0] == "me" && rest[1] == "register" && r.Method == http.MethodPost {
		s.registerProxy(w, r)
		return
	}
	if len(rest) > 1 {
		routeNotFound(w)
		return
	}
	who, ok := s.auth(w, r)
	if !ok {
		return
	}
	if who != roleOwner {
		writeMsg(w, http.StatusForbidden, msgForbidden, "Only an Owner may read or change workspace proxies.")
		return
	}
	if len(rest) == 0 {
		switch r.Method {
		case http.MethodGet:
			// coderd lists the primary first, then the proxies as stored.
			out := coderapi.RegionsResponse{Regions: []coderapi.WorkspaceProxy{}}
			for _, p := range s.proxies {
				if !p.api.Deleted {
					out.Regions = append(out.Regions, s.proxyView(p))
				}
			}
			writeJSON(w, http.StatusOK, out)
		case http.MethodPost:
			s.createProxy(w, r)
		default:
			methodNotAllowed(w)
		}
		return
	}
	p := s.proxyParam(rest[0])
	if p == nil {
		writeMsg(w, http.StatusNotFound, msgNotFound, "")
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.proxyView(p))
	case http.MethodPatch:
		s.patchProxy(w, r, p)
	case http.MethodDelete:
		if p.primary {
			writeMsg(w, http.StatusBadRequest, "The primary region cannot be deleted.", "")
			return
		}
		p.api.Deleted = true
		writeMsg(w, http.StatusOK, "Workspace proxy deleted.", "")
	default:
		methodNotAllowed(w)
	}
}

// proxyParam finds a live proxy by "primary", the deployment ID, an ID or
// a name, as coderd's workspace proxy path parameter does.
func (s *Server) proxyParam(v string) *proxy {
	if v == coderapi.PrimaryProxyName || v == s.deployment {
		return s.proxies[0]
	}
	for _, p := range s.proxies {
		if p.api.Deleted {
			continue
		}
		if (isUUID(v) && strings.EqualFold(p.api.ID, v)) || (!isUUID(v) && p.api.Name == v) {
			return p
		}
	}
	return nil
}

func (s *Server) nameTaken(name string, except *proxy) bool {
	for _, p := range s.proxies {
		if p != except && !p.api.Deleted && strings.EqualFold(p.api.Name, name) {
			return true
		}
	}
	return false
}

func (s *Server) createProxy(w http.ResponseWriter, r *http.Request) {
	var req coderapi.CreateWorkspaceProxyRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Name == "" {
		validationFailed(w, "name")
		return
	}
	if strings.EqualFold(req.Name, coderapi.PrimaryProxyName) {
		writeJSON(w, http.StatusBadRequest, coderapi.Response{
			Message:     `The name "primary" belongs to the primary region.`,
			Detail:      "Choose another name for the workspace proxy.",
			Validations: []coderapi.ValidationError{{Field: "name", Detail: "Reserved name"}},
		})
		return
	}
	if s.nameTaken(req.Name, nil) {
		writeMsg(w, http.StatusConflict, fmt.Sprintf("A workspace proxy named %q exists already.", req.Name), "")
		return
	}
	now := s.opts.Now().UTC()
	p := &proxy{api: coderapi.WorkspaceProxy{
		Region:      coderapi.Region{ID: s.newID(), Name: req.Name, DisplayName: req.DisplayName, IconURL: req.Icon},
		DerpEnabled: true,
		Status:      coderapi.WorkspaceProxyStatus{Status: coderapi.ProxyUnregistered, Report: emptyReport(), CheckedAt: now},
		CreatedAt:   now, UpdatedAt: now,
	}}
	token := s.issueProxyToken(p)
	s.proxies = append(s.proxies, p)
	writeJSON(w, http.StatusCreated, coderapi.UpdateWorkspaceProxyResponse{Proxy: s.proxyView(p), ProxyToken: token})
}

// issueProxyToken gives p a new token "<id>:<64 hex>" and keeps its hash.
func (s *Server) issueProxyToken(p *proxy) string {
	secret := randomHex(32)
	p.tokenHash = hashOf(secret)
	return p.api.ID + ":" + secret
}

func (s *Server) patchProxy(w http.ResponseWriter, r *http.Request, p *proxy) {
	var req coderapi.PatchWorkspaceProxy
	if !readJSON(w, r, &req) {
		return
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"id", req.ID}, {"name", req.Name}, {"display_name", req.DisplayName}, {"icon", req.Icon}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		validationFailed(w, missing...)
		return
	}
	if p.primary {
		if req.Name != p.api.Name {
			writeJSON(w, http.StatusBadRequest, coderapi.Response{
				Message:     "The primary region's name cannot change; its display name and icon can.",
				Validations: []coderapi.ValidationError{{Field: "name", Detail: "The primary region keeps its name."}},
			})
			return
		}
		if req.RegenerateToken {
			writeMsg(w, http.StatusBadRequest, "The primary region has no proxy token.", "")
			return
		}
	} else if s.nameTaken(req.Name, p) {
		writeMsg(w, http.StatusConflict, fmt.Sprintf("A workspace proxy named %q exists already.", req.Name), "")
		return
	}
	p.api.Name, p.api.DisplayName, p.api.IconURL = req.Name, req.DisplayName, req.Icon
	p.api.UpdatedAt = s.opts.Now().UTC()
	var token string
	if req.RegenerateToken {
		token = s.issueProxyToken(p)
	}
	writeJSON(w, http.StatusOK, coderapi.UpdateWorkspaceProxyResponse{Proxy: s.proxyView(p), ProxyToken: token})
}

// registerProxy is the proxy process's own call: authenticated by its
// token in the Coder-External-Proxy-Token header.
func (s *Server) registerProxy(w http.ResponseWriter, r *http.Request) {
	tok := r.Header.Get(coderapi.ProxyTokenHeader)
	if tok == "" {
		writeMsg(w, http.StatusUnauthorized, "The external proxy token is missing.", "Send it in the "+coderapi.ProxyTokenHeader+" header.")
		return
	}
	id, secret, ok := strings.Cut(tok, ":")
	if !ok || !isUUID(id) || len(secret) != 64 {
		writeMsg(w, http.StatusUnauthorized, "The external proxy token is not valid.", "")
		return
	}
	var p *proxy
	for _, c := range s.proxies {
		if !c.primary && strings.EqualFold(c.api.ID, id) {
			p = c
		}
	}
	switch {
	case p == nil:
		writeMsg(w, http.StatusUnauthorized, "The external proxy token is not valid.", "No such proxy.")
		return
	case p.api.Deleted:
		writeMsg(w, http.StatusUnauthorized, "The external proxy token is not valid.", "The proxy was deleted.")
		return
	}
	h := hashOf(secret)
	if subtle.ConstantTimeCompare(h[:], p.tokenHash[:]) != 1 {
		writeMsg(w, http.StatusUnauthorized, "The external proxy token is not valid.", "The secret does not match.")
		return
	}
	var req coderapi.RegisterWorkspaceProxyRequest
	if !readJSON(w, r, &req) {
		return
	}
	u, err := url.Parse(req.AccessURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		writeMsg(w, http.StatusBadRequest, "The access URL is not valid.", "Want http(s)://host with an empty path.")
		return
	}
	if !isUUID(req.ReplicaID) || req.ReplicaID == "00000000-0000-0000-0000-000000000000" {
		writeMsg(w, http.StatusBadRequest, "The replica ID is not valid.", "")
		return
	}
	if req.DerpOnly && !req.DerpEnabled {
		writeMsg(w, http.StatusBadRequest, "derp_only needs derp_enabled.", "")
		return
	}
	now := s.opts.Now().UTC()
	p.registered = true
	p.api.PathAppURL, p.api.WildcardHostname = req.AccessURL, req.WildcardHostname
	p.api.DerpEnabled, p.api.DerpOnly, p.api.Version = req.DerpEnabled, req.DerpOnly, req.Version
	p.api.Status = coderapi.WorkspaceProxyStatus{Status: coderapi.ProxyHealthy, Report: emptyReport(), CheckedAt: now}
	p.api.Healthy = true
	p.api.UpdatedAt = now
	writeJSON(w, http.StatusCreated, map[string]any{"derp_region_id": 999 + len(s.proxies), "sibling_replicas": []any{}})
}

func (s *Server) organizations(w http.ResponseWriter, r *http.Request, param string, rest []string) {
	who, ok := s.auth(w, r)
	if !ok {
		return
	}
	o := s.findOrg(param)
	if o == nil {
		writeMsg(w, http.StatusNotFound, msgNotFound, "")
		return
	}
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, o.Organization)
	case len(rest) >= 1 && len(rest) <= 2 && rest[0] == "provisionerkeys":
		if !s.opts.Premium {
			writeMsg(w, http.StatusForbidden, msgKeysPremium, "")
			return
		}
		if who != roleOwner {
			writeMsg(w, http.StatusForbidden, msgForbidden, "Only an Owner (or organization admin) may manage provisioner keys.")
			return
		}
		s.provisionerKeys(w, r, o, rest[1:])
	case len(rest) == 1 && rest[0] == "provisionerdaemons" && r.Method == http.MethodGet:
		s.provisionerDaemons(w, r, o)
	default:
		routeNotFound(w)
	}
}

func (s *Server) provisionerKeys(w http.ResponseWriter, r *http.Request, o *org, rest []string) {
	if len(rest) == 1 {
		if r.Method != http.MethodDelete {
			methodNotAllowed(w)
			return
		}
		for i, k := range s.keys {
			if k.api.OrganizationID == o.ID && strings.EqualFold(k.api.Name, rest[0]) {
				s.keys = append(s.keys[:i], s.keys[i+1:]...)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		writeMsg(w, http.StatusNotFound, msgNotFound, "")
		return
	}
	switch r.Method {
	case http.MethodGet:
		out := s.keysOf(o.ID)
		if out == nil {
			out = []coderapi.ProvisionerKey{}
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		s.createKey(w, r, o)
	default:
		methodNotAllowed(w)
	}
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, o *org) {
	var req coderapi.CreateProvisionerKeyRequest
	if !readJSON(w, r, &req) {
		return
	}
	refuse := func(msg string) {
		writeJSON(w, http.StatusBadRequest, coderapi.Response{Message: msg, Validations: []coderapi.ValidationError{{Field: "name", Detail: msg}}})
	}
	if req.Name == "" {
		refuse("A provisioner key needs a name.")
		return
	}
	if len(req.Name) > coderapi.MaxProvisionerKeyNameLen {
		refuse(fmt.Sprintf("A provisioner key name has at most %d characters.", coderapi.MaxProvisionerKeyNameLen))
		return
	}
	for _, reserved := range coderapi.ReservedProvisionerKeyNames {
		if strings.EqualFold(req.Name, reserved) {
			refuse(fmt.Sprintf("The name %q is reserved for coderd's own provisioner keys.", req.Name))
			return
		}
	}
	for _, k := range s.keys {
		if k.api.OrganizationID == o.ID && strings.EqualFold(k.api.Name, req.Name) {
			writeMsg(w, http.StatusConflict, fmt.Sprintf("The organization has a provisioner key named %q already.", req.Name), "")
			return
		}
	}
	tags := map[string]string{}
	for k, v := range req.Tags {
		tags[k] = v
	}
	secret := randomAlnum(43)
	s.keys = append(s.keys, &pkey{hash: hashOf(secret), api: coderapi.ProvisionerKey{
		ID: s.newID(), CreatedAt: s.opts.Now().UTC(), OrganizationID: o.ID, Name: req.Name, Tags: tags,
	}})
	writeJSON(w, http.StatusCreated, coderapi.CreateProvisionerKeyResponse{Key: secret})
}

// provisionerKeyByToken answers for the key in the daemon key header (the
// path's copy is not trusted, as in coderd).
func (s *Server) provisionerKeyByToken(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(coderapi.ProvisionerKeyHeader)
	if key == "" {
		writeMsg(w, http.StatusUnauthorized, "A provisioner daemon key is required.", "Send it in the "+coderapi.ProvisionerKeyHeader+" header.")
		return
	}
	if len(key) != 43 {
		writeMsg(w, http.StatusBadRequest, "The provisioner daemon key is not valid.", "It must be 43 characters.")
		return
	}
	h := hashOf(key)
	for _, k := range s.keys {
		if subtle.ConstantTimeCompare(h[:], k.hash[:]) == 1 {
			writeJSON(w, http.StatusOK, copyKey(k.api))
			return
		}
	}
	writeMsg(w, http.StatusUnauthorized, "The provisioner daemon key is not valid.", "")
}

func (s *Server) provisionerDaemons(w http.ResponseWriter, r *http.Request, o *org) {
	want := map[string]string{}
	if raw := r.URL.Query().Get("tags"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			writeMsg(w, http.StatusBadRequest, "The tags query parameter is not a JSON object of strings.", err.Error())
			return
		}
	}
	out := []coderapi.ProvisionerDaemon{}
	for _, d := range s.daemons {
		if d.api.OrganizationID == o.ID && hasTags(d.api.Tags, want) {
			v := d.api
			v.Tags = copyKey(coderapi.ProvisionerKey{Tags: d.api.Tags}).Tags
			out = append(out, v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	writeJSON(w, http.StatusOK, out)
}

func hasTags(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeMsg(w, http.StatusBadRequest, "The request body is not valid JSON.", err.Error())
		return false
	}
	return true
}

func validationFailed(w http.ResponseWriter, fields ...string) {
	resp := coderapi.Response{Message: "Validation failed."}
	for _, f := range fields {
		resp.Validations = append(resp.Validations, coderapi.ValidationError{Field: f, Detail: "A value is required."})
	}
	writeJSON(w, http.StatusBadRequest, resp)
}

func routeNotFound(w http.ResponseWriter) { writeMsg(w, http.StatusNotFound, "Route not found.", "") }

func methodNotAllowed(w http.ResponseWriter) {
	writeMsg(w, http.StatusMethodNotAllowed, "Method not allowed.", "")
}

func writeMsg(w http.ResponseWriter, code int, msg, detail string) {
	writeJSON(w, code, coderapi.Response{Message: msg, Detail: detail})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
