package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/coderfleet/coderfleet/awsstate"
)

// Role is an IAM role as sync read it: every role under the fleet's path
// that carries the fleet's tags, and every role whose name a desired role
// has (which may belong to someone else).
type Role struct {
	Name        string `json:"name"`
	Path        string `json:"path"`
	ARN         string `json:"arn"`
	Description string `json:"description,omitempty"`
	// Owned is true when the role carries coderfleet.io/fleet=<fleet> and a
	// coderfleet.io/name tag; only then does sync change or delete it.
	Owned bool `json:"owned"`
	// Region is the coderfleet.io/region tag.
	Region string            `json:"region,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
	// Trust is the trust policy, decoded from IAM's URL encoding.
	Trust string `json:"trust,omitempty"`
	// Inline maps the name of each inline policy to its document (decoded);
	// read for owned roles only.
	Inline map[string]string `json:"inline,omitempty"`
	// Managed lists the ARNs of the attached managed policies, sorted; read
	// for owned roles only.
	Managed []string `json:"managed,omitempty"`
	// DescriptionUnread is set when the role was built from the account's
	// GetAccountAuthorizationDetails listing alone, which has no
	// descriptions (ReadStatus): the plan then does not compare them.
	DescriptionUnread bool `json:"-"`
}

// Cluster is what EKS and IAM say about the cluster of a desired role.
type Cluster struct {
	Name      string `json:"name"`
	AWSRegion string `json:"awsRegion"`
	// Found is false while EKS does not know the cluster (or it has no OIDC
	// issuer yet): its roles wait.
	Found bool `json:"found"`
	// Issuer is identity.oidc.issuer without "https://".
	Issuer string `json:"issuer,omitempty"`
	// ProviderARN is the IAM OIDC provider of Issuer.
	ProviderARN string `json:"providerArn,omitempty"`
	// NoProvider is set, and Found cleared, when the cluster exists but its
	// issuer has no IAM OIDC provider and the read was told to note this
	// (status) rather than fail with an *OIDCProviderError (plan, apply).
	NoProvider bool `json:"-"`
}

// clusterKey identifies a cluster in Actual.Clusters: "awsRegion/name".
func clusterKey(c awsstate.ClusterRef) string { return c.AWSRegion + "/" + c.Name }

// rolePath is the IAM path of every role of fleet.
func rolePath(fleet string) string { return "/coderfleet/" + fleet + "/" }

// TrustPolicy returns the trust policy of an IAM role for service accounts
// (IAM roles for service accounts, EKS User Guide): the principal is the
// cluster's IAM OIDC provider providerARN, the action
// sts:AssumeRoleWithWebIdentity, and the condition admits exactly the token
// of sa with audience sts.amazonaws.com. issuer is the cluster's OIDC issuer
// without "https://", the prefix of the condition keys. The bytes are
// compact JSON, the same for the same inputs.
func TrustPolicy(providerARN, issuer string, sa awsstate.ServiceAccountRef) string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"Federated": providerARN},
			"Action":    "sts:AssumeRoleWithWebIdentity",
			"Condition": map[string]any{"StringEquals": map[string]any{
				issuer + ":sub": sa.Subject(),
				issuer + ":aud": "sts.amazonaws.com",
			}},
		}},
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// policyJSON is the compact JSON of a policy document of roles.yaml.
func policyJSON(d awsstate.PolicyDocument) string {
	b, _ := json.Marshal(d)
	return string(b)
}

// decodePolicy turns a document as IAM returns it (URL-encoded) into JSON
// text; a document that is not URL-encoded is returned as is.
func decodePolicy(s string) string {
	if d, err := url.QueryUnescape(s); err == nil && strings.HasPrefix(strings.TrimSpace(d), "{") {
		return d
	}
	return s
}

// samePolicy compares two policy documents as IAM does: as JSON values, with
// a single value equal to a list holding only it ("Action": "x" and
// "Action": ["x"] grant the same, IAM User Guide, "IAM JSON policy
// elements"), whatever the spacing and key order.
func samePolicy(a, b string) bool {
	if a == b {
		return true // as sync wrote it: no need to parse
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return reflect.DeepEqual(collapse(x), collapse(y))
}

func collapse(v any) any {
	switch t := v.(type) {
	case []any:
		if len(t) == 1 {
			return collapse(t[0])
		}
		out := make([]any, len(t))
		for i := range t {
			out[i] = collapse(t[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = collapse(e)
		}
		return out
	}
	return v
}

// prettyPolicy indents a JSON document with sorted keys for the plan; text
// that is not JSON is returned as is.
func prettyPolicy(s string) string {
	var v any
	if s == "" || json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// readIAM reads the clusters of the desired roles, their OIDC providers,
// the roles of the fleet and the roles named like desired ones. A cluster
// EKS knows whose issuer has no IAM OIDC provider is an error: sync cannot
// write a trust policy for it.
func (s *syncer) readIAM(ctx context.Context, d *Desired, a *Actual) error {
	a.Clusters = map[string]*Cluster{}
	desired := map[string]bool{}
	for _, r := range d.Regions {
		for _, role := range r.Roles {
			desired[role.Name] = true
			a.Clusters[clusterKey(role.Cluster)] = &Cluster{Name: role.Cluster.Name, AWSRegion: role.Cluster.AWSRegion}
		}
	}
	if s.opts.Clients.IAM == nil {
		if len(desired) > 0 {
			return fmt.Errorf("sync: Options.Clients.IAM and EKS are not set but roles.yaml lists roles")
		}
		return nil
	}
	// The roles under the fleet's path come from ListRoles (with their
	// descriptions), their policies and tags from the account's listing
	// when there are more than roleListingMin of them; with more desired
	// than that, both are read at once. ReadStatus (rolesFromListing) reads
	// the listing alone.
	var listed []iamtypes.Role
	var details map[string]iamtypes.RoleDetail
	early := s.rolesFromListing || len(desired) > s.roleListingMin
	if err := s.all(ctx, func(ctx context.Context) error {
		err := s.readClusters(ctx, a)
		if oe, ok := err.(*OIDCProviderError); ok {
			oe.Others = otherRegions(d, oe.Cluster, oe.AWSRegion)
		}
		return err
	}, func(ctx context.Context) (err error) {
		if s.rolesFromListing {
			return nil
		}
		listed, err = s.listRoles(ctx, d)
		return err
	}, func(ctx context.Context) (err error) {
		if early {
			details, err = s.roleDetails(ctx)
		}
		return err
	}); err != nil {
		return err
	}
	if s.rolesFromListing {
		listed = rolesUnder(details, rolePath(d.Fleet))
	} else if details == nil && len(listed) > s.roleListingMin {
		var err error
		if details, err = s.roleDetails(ctx); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, r := range listed {
		seen[deref(r.RoleName)] = true
	}
	var unseen []string
	for _, name := range slices.Sorted(maps.Keys(desired)) {
		if !seen[name] {
			unseen = append(unseen, name)
		}
	}
	// Roles the listing holds cost no call: they are built here, in this
	// goroutine (ReadStatus runs this for every region over the same
	// account's listing). Only the others are read role by role, at once.
	roles := make([]*Role, len(listed)+len(unseen))
	names := slices.Concat(make([]string, len(listed)), unseen)
	var reads []int
	for i := range roles {
		var base iamtypes.Role // what ListRoles said: the description
		if i < len(listed) {
			base, names[i] = listed[i], deref(listed[i].RoleName)
		}
		det, ok := details[names[i]]
		switch {
		case !ok || i >= len(listed) && !s.rolesFromListing:
			reads = append(reads, i) // not in the listing, or a description to read
		case desired[names[i]] || ownedInScope(d, det.Tags):
			roles[i] = roleFromDetail(d, base, det)
			roles[i].DescriptionUnread = s.rolesFromListing
		}
		// Otherwise left out below anyway: not worth decoding its policies.
	}
	if err := s.each(ctx, len(reads), func(ctx context.Context, j int) (err error) {
		roles[reads[j]], err = s.readRole(ctx, d, names[reads[j]])
		return err
	}); err != nil {
		return err
	}
	for _, role := range roles {
		if role == nil || !desired[role.Name] && (!role.Owned || !d.inScope(role.Region)) {
			continue // gone, out of scope, or someone else's: never touched
		}
		a.Roles = append(a.Roles, *role)
	}
	sort.Slice(a.Roles, func(i, j int) bool { return a.Roles[i].Name < a.Roles[j].Name })
	return nil
}

// roleListingMin is the number of roles above which readIAM reads them
// from one GetAccountAuthorizationDetails listing (one call per 1000 roles
// of the account, IAM API Reference) instead of role by role (GetRole,
// ListRolePolicies, ListAttachedRolePolicies and one GetRolePolicy per
// inline policy: at least three calls per role). A fleet of a region has
// about ten roles, so any fleet reads them in one listing; a handful of
// roles in an account of thousands is cheaper to read one by one.
const roleListingMin = 4

// listRoles lists the IAM roles under the fleet's path, 1000 a page (the
// most IAM returns).
func (s *syncer) listRoles(ctx context.Context, d *Desired) ([]iamtypes.Role, error) {
	var roles []iamtypes.Role
	var marker *string
	for {
		var out *iam.ListRolesOutput
		_, err := s.call(ctx, "listing IAM roles under "+rolePath(d.Fleet), func(ctx context.Context) (err error) {
			out, err = s.opts.Clients.IAM.ListRoles(ctx, &iam.ListRolesInput{PathPrefix: ptr(rolePath(d.Fleet)), Marker: marker, MaxItems: ptr(int32(1000))})
			return err
		})
		if err != nil {
			return nil, err
		}
		roles = append(roles, out.Roles...)
		if !out.IsTruncated || deref(out.Marker) == "" {
			return roles, nil
		}
		marker = out.Marker
	}
}

// readClusters looks up the OIDC issuer of each cluster in a.Clusters and
// its IAM OIDC provider.
func (s *syncer) readClusters(ctx context.Context, a *Actual) error {
	keys := slices.Sorted(maps.Keys(a.Clusters))
	if len(keys) > 0 && s.opts.Clients.EKS == nil {
		return fmt.Errorf("sync: Options.Clients.EKS is not set but roles.yaml lists roles")
	}
	if err := s.each(ctx, len(keys), func(ctx context.Context, i int) error {
		c := a.Clusters[keys[i]]
		var out *eks.DescribeClusterOutput
		_, err := s.call(ctx, "describing EKS cluster "+c.Name+" in "+c.AWSRegion, func(ctx context.Context) (err error) {
			out, err = s.opts.Clients.EKS(c.AWSRegion).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: ptr(c.Name)})
			return err
		})
		if errorCode(err) == "ResourceNotFoundException" {
			return nil
		}
		if err != nil {
			return err
		}
		if out.Cluster == nil || out.Cluster.Identity == nil || out.Cluster.Identity.Oidc == nil || deref(out.Cluster.Identity.Oidc.Issuer) == "" {
			return nil // being created: no issuer yet
		}
		c.Found = true
		c.Issuer = strings.TrimPrefix(deref(out.Cluster.Identity.Oidc.Issuer), "https://")
		return nil
	}); err != nil {
		return err
	}
	var providers []string
	listed := false
	for _, k := range keys {
		c := a.Clusters[k]
		if !c.Found {
			continue
		}
		if !listed {
			var po *iam.ListOpenIDConnectProvidersOutput
			_, err := s.call(ctx, "listing IAM OIDC providers", func(ctx context.Context) (err error) {
				po, err = s.opts.Clients.IAM.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
				return err
			})
			if err != nil {
				return err
			}
			for _, p := range po.OpenIDConnectProviderList {
				providers = append(providers, deref(p.Arn))
			}
			listed = true
		}
		for _, arn := range providers {
			// arn:<partition>:iam::<account>:oidc-provider/<issuer>
			if strings.HasSuffix(arn, ":oidc-provider/"+c.Issuer) {
				c.ProviderARN = arn
			}
		}
		if c.ProviderARN == "" && s.noteNoProvider {
			c.Found, c.NoProvider = false, true // its roles wait; status names the step
			continue
		}
		if c.ProviderARN == "" {
			return &OIDCProviderError{Cluster: c.Name, AWSRegion: c.AWSRegion, Issuer: c.Issuer}
		}
	}
	return nil
}

// OIDCProviderError reports an EKS cluster whose OIDC issuer has no IAM
// OIDC provider: no role can trust its ServiceAccounts until one exists.
type OIDCProviderError struct {
	Cluster, AWSRegion, Issuer string
	// Others are the region folders of the run whose roles do not use the
	// cluster, sorted: a run limited to them (--region) does not read it.
	Others []string
}

// Error names the cluster and the one command that creates the provider,
// and the --region that lets the other regions of the run go on meanwhile.
func (e *OIDCProviderError) Error() string {
	others := ""
	if len(e.Others) > 0 {
		others = "; meanwhile the other regions can go on: run it with --region " + strings.Join(e.Others, ",")
	}
	return fmt.Sprintf("EKS cluster %s (%s) has no IAM OIDC provider for its issuer https://%s, so no role can trust its ServiceAccounts (hint: create it with eksctl utils associate-iam-oidc-provider --cluster %s --region %s --approve, then run coderfleet sync again%s)",
		e.Cluster, e.AWSRegion, e.Issuer, e.Cluster, e.AWSRegion, others)
}

// otherRegions returns the region folders of d, sorted, with no role in
// the EKS cluster name of awsRegion. sync reads only the clusters of the
// roles of its regions (see docs/sync.md "Scope"), so --region naming them
// leaves the cluster out.
func otherRegions(d *Desired, cluster, awsRegion string) []string {
	var out []string
	for _, r := range d.Regions {
		uses := false
		for _, role := range r.Roles {
			if role.Cluster.Name == cluster && role.Cluster.AWSRegion == awsRegion {
				uses = true
			}
		}
		if !uses {
			out = append(out, r.Region)
		}
	}
	slices.Sort(out)
	return out
}

// readRole reads the role name; nil when it does not exist. Policies are
// read only for roles the fleet owns.
func (s *syncer) readRole(ctx context.Context, d *Desired, name string) (*Role, error) {
	client := s.opts.Clients.IAM
	var out *iam.GetRoleOutput
	_, err := s.call(ctx, "reading IAM role "+name, func(ctx context.Context) (err error) {
		out, err = client.GetRole(ctx, &iam.GetRoleInput{RoleName: ptr(name)})
		return err
	})
	if errorCode(err) == "NoSuchEntity" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	role := newRole(d, *out.Role, out.Role.Tags)
	if !role.Owned {
		return role, nil
	}
	role.Inline = map[string]string{}
	var names []string
	var marker *string
	for {
		var lp *iam.ListRolePoliciesOutput
		if _, err := s.call(ctx, "listing inline policies of IAM role "+name, func(ctx context.Context) (err error) {
			lp, err = client.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: ptr(name), Marker: marker})
			return err
		}); err != nil {
			return nil, err
		}
		names = append(names, lp.PolicyNames...)
		if !lp.IsTruncated || deref(lp.Marker) == "" {
			break
		}
		marker = lp.Marker
	}
	for _, pn := range names {
		var gp *iam.GetRolePolicyOutput
		if _, err := s.call(ctx, "reading inline policy "+pn+" of IAM role "+name, func(ctx context.Context) (err error) {
			gp, err = client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: ptr(name), PolicyName: ptr(pn)})
			return err
		}); err != nil {
			return nil, err
		}
		role.Inline[pn] = decodePolicy(deref(gp.PolicyDocument))
	}
	marker = nil
	for {
		var la *iam.ListAttachedRolePoliciesOutput
		if _, err := s.call(ctx, "listing managed policies of IAM role "+name, func(ctx context.Context) (err error) {
			la, err = client.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: ptr(name), Marker: marker})
			return err
		}); err != nil {
			return nil, err
		}
		for _, p := range la.AttachedPolicies {
			role.Managed = append(role.Managed, deref(p.PolicyArn))
		}
		if !la.IsTruncated || deref(la.Marker) == "" {
			break
		}
		marker = la.Marker
	}
	sort.Strings(role.Managed)
	return role, nil
}

// newRole is the role r (as GetRole or ListRoles return it) with tags
// (ListRoles returns none), Owned and Region set from the tags; Inline and
// Managed are left to the caller.
func newRole(d *Desired, r iamtypes.Role, tags []iamtypes.Tag) *Role {
	role := &Role{Name: deref(r.RoleName), Path: deref(r.Path), ARN: deref(r.Arn), Description: deref(r.Description),
		Tags: roleTags(tags), Trust: decodePolicy(deref(r.AssumeRolePolicyDocument))}
	role.Region = role.Tags[awsstate.TagRegion]
	role.Owned = ownsRole(d, role.Tags[awsstate.TagFleet], role.Tags[awsstate.TagName])
	return role
}

// roleTags is an IAM tag list as a map.
func roleTags(tags []iamtypes.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[deref(t.Key)] = deref(t.Value)
	}
	return m
}

// ownsRole reports whether a role whose tags give fleet (TagFleet) and name
// (TagName) is the fleet's own.
func ownsRole(d *Desired, fleet, name string) bool {
	return fleet == d.Fleet && name != ""
}

// ownedInScope reports whether tags make a role the fleet's own (as newRole
// judges it) and name a region in d's scope.
// It reads the three tags in place: ReadStatus asks it of every role of the
// account for every region.
func ownedInScope(d *Desired, tags []iamtypes.Tag) bool {
	var fleet, name, region string
	for _, t := range tags {
		switch deref(t.Key) {
		case awsstate.TagFleet:
			fleet = deref(t.Value)
		case awsstate.TagName:
			name = deref(t.Value)
		case awsstate.TagRegion:
			region = deref(t.Value)
		}
	}
	return ownsRole(d, fleet, name) && d.inScope(region)
}

// rolesUnder lists the roles of details whose path starts with prefix,
// sorted by name, as ListRoles with that PathPrefix lists them but without
// descriptions (RoleDetail has none).
func rolesUnder(details map[string]iamtypes.RoleDetail, prefix string) []iamtypes.Role {
	var out []iamtypes.Role
	for _, name := range slices.Sorted(maps.Keys(details)) {
		det := details[name]
		if strings.HasPrefix(deref(det.Path), prefix) {
			out = append(out, iamtypes.Role{RoleName: det.RoleName, Path: det.Path, Arn: det.Arn, AssumeRolePolicyDocument: det.AssumeRolePolicyDocument})
		}
	}
	return out
}

// roleFromDetail is what readRole returns for the role listed (a ListRoles
// entry: the description, which a RoleDetail lacks) and det, its entry of
// GetAccountAuthorizationDetails: the same fields from one listing.
func roleFromDetail(d *Desired, listed iamtypes.Role, det iamtypes.RoleDetail) *Role {
	r := listed
	r.RoleName, r.Path, r.Arn, r.AssumeRolePolicyDocument = det.RoleName, det.Path, det.Arn, det.AssumeRolePolicyDocument
	role := newRole(d, r, det.Tags)
	if !role.Owned {
		return role
	}
	role.Inline = map[string]string{}
	for _, p := range det.RolePolicyList {
		role.Inline[deref(p.PolicyName)] = decodePolicy(deref(p.PolicyDocument))
	}
	for _, p := range det.AttachedManagedPolicies {
		role.Managed = append(role.Managed, deref(p.PolicyArn))
	}
	sort.Strings(role.Managed)
	return role
}

// roleDetails returns every role of the account by name as
// GetAccountAuthorizationDetails with the Role filter lists it: trust
// policy, inline policies, attached managed policies and tags in pages of
// up to 1000 roles (IAM API Reference). ReadStatus (s.share set) reads it
// once per round for all its regions; sync plan and apply at each read.
func (s *syncer) roleDetails(ctx context.Context) (map[string]iamtypes.RoleDetail, error) {
	list := func() (map[string]iamtypes.RoleDetail, error) {
		out := map[string]iamtypes.RoleDetail{}
		var marker *string
		for {
			var page *iam.GetAccountAuthorizationDetailsOutput
			if _, err := s.call(ctx, "listing the IAM roles of the account", func(ctx context.Context) (err error) {
				page, err = s.opts.Clients.IAM.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{
					Filter: []iamtypes.EntityType{iamtypes.EntityTypeRole}, MaxItems: ptr(int32(1000)), Marker: marker})
				return err
			}); err != nil {
				return nil, err
			}
			for _, r := range page.RoleDetailList {
				out[deref(r.RoleName)] = r
			}
			if !page.IsTruncated || deref(page.Marker) == "" {
				return out, nil
			}
			marker = page.Marker
		}
	}
	if s.share == nil {
		return list()
	}
	return s.share.roleDetails.get(ctx, list)
}

// iamTags converts tags to IAM's, sorted by key.
func iamTags(m map[string]string) []iamtypes.Tag {
	var out []iamtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, iamtypes.Tag{Key: ptr(k), Value: ptr(m[k])})
	}
	return out
}

// iamRuleErrors refuses what IAM and Secrets Manager cannot hold, between
// region folders: one role name desired twice (IAM role names are unique
// in the account) and one secret name desired twice in an AWS region.
func iamRuleErrors(d *Desired) []error {
	var errs []error
	roles, secrets := map[string]string{}, map[string]string{}
	for _, r := range d.Regions {
		for i, role := range r.Roles {
			if other, ok := roles[role.Name]; ok {
				errs = append(errs, fmt.Errorf("regions/%s/aws/%s: roles[%d].name: role %q is also desired by region %s; IAM role names are unique in an account (hint: role names are <cluster>-<purpose>: give the clusters distinct names)", r.Region, awsstate.RolesFile, i, role.Name, other))
				continue
			}
			roles[role.Name] = r.Region
		}
		for i, sec := range r.Secrets {
			k := sec.AWSRegion + " " + sec.Name
			if other, ok := secrets[k]; ok {
				errs = append(errs, fmt.Errorf("regions/%s/aws/%s: secrets[%d].name: secret %q in %s is also desired by region %s (hint: give each region's secrets their own names)", r.Region, awsstate.SecretsFile, i, sec.Name, sec.AWSRegion, other))
				continue
			}
			secrets[k] = r.Region
		}
	}
	return errs
}
