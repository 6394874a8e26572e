package render

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/awsrules"
	"github.com/coderfleet/coderfleet/internal/diag"
)

// awsList is one list of the templates' `aws` result: its key, the
// desired-state file it is written to and that file's kind.
type awsList struct {
	key  string
	file string
	kind awsstate.Kind
	// optional lists are written only when the templates return them.
	optional bool
}

// awsLists are the lists of `aws`, in the order they are written.
var awsLists = []awsList{
	{"certificates", awsstate.CertificatesFile, awsstate.KindCertificateList, false},
	{"healthChecks", awsstate.HealthChecksFile, awsstate.KindHealthCheckList, false},
	{"records", awsstate.RecordsFile, awsstate.KindRecordList, false},
	{"roles", awsstate.RolesFile, awsstate.KindRoleList, true},
	{"secrets", awsstate.SecretsFile, awsstate.KindSecretList, true},
	{"workspaceProxies", awsstate.WorkspaceProxiesFile, awsstate.KindWorkspaceProxyList, true},
	{"provisionerKeys", awsstate.ProvisionerKeysFile, awsstate.KindProvisionerKeyList, true},
}

// awsHostedZoneKey is the key of `aws` naming the records' Route53 zone.
const awsHostedZoneKey = "hostedZone"

// awsShapeHint is the hint of a problem in the templates' `aws` result.
const awsShapeHint = "main.jsonnet returns aws: {hostedZone, certificates, healthChecks, records, roles?, secrets?, workspaceProxies?, provisionerKeys?}, each item with the keys docs/sync.md (\"Files under regions/<region>/aws/\") lists; templates/lib/aws.libsonnet builds them"

// awsState is a region's AWS desired state as the templates returned it,
// parsed: the files by name, as sync reads them.
type awsState map[string]*awsstate.File

// parseAWS checks the templates' `aws` result of region strictly, as sync
// reads the files (awsstate.Parse), and returns it. fleet is the fleet's
// name, written into each file's header. A problem is an input error
// naming templates/main.jsonnet and the key path (aws.records[2].alias).
func parseAWS(fleet, region string, raw json.RawMessage) (awsState, error) {
	fail := func(key, msg string) error {
		return &Error{Region: region, File: EntryPoint, Key: key, Msg: msg, Hint: awsShapeHint}
	}
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, fail("aws", "the template returned no aws: the region's AWS desired state")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fail("aws", "must be an object")
	}
	known := []string{awsHostedZoneKey}
	for _, l := range awsLists {
		known = append(known, l.key)
	}
	var errs Errors
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if !slices.Contains(known, k) {
			errs = append(errs, fail("aws."+k, fmt.Sprintf("unknown key %q (known: %s)", k, strings.Join(known, ", "))).(*Error))
		}
	}
	if _, ok := top[awsHostedZoneKey]; !ok {
		errs = append(errs, fail("aws."+awsHostedZoneKey, "missing: the Route53 zone of the region's records").(*Error))
	}
	state := awsState{}
	for _, l := range awsLists {
		list, ok := top[l.key]
		if !ok {
			if !l.optional {
				errs = append(errs, fail("aws."+l.key, "missing (an empty list when the region has none)").(*Error))
			}
			continue
		}
		doc := map[string]json.RawMessage{l.key: list}
		for k, v := range map[string]string{"apiVersion": awsstate.APIVersion, "kind": string(l.kind), "fleet": fleet, "region": region} {
			doc[k], _ = json.Marshal(v)
		}
		if l.kind == awsstate.KindRecordList && top[awsHostedZoneKey] != nil {
			doc[awsHostedZoneKey] = top[awsHostedZoneKey]
		}
		js, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("region %s: encoding aws.%s: %w", region, l.key, err)
		}
		data, err := yaml.JSONToYAML(js)
		if err != nil {
			return nil, fmt.Errorf("region %s: encoding aws.%s: %w", region, l.key, err)
		}
		f, err := awsstate.Parse(l.file, data)
		if err != nil {
			errs = append(errs, templateProblems(region, err)...)
			continue
		}
		state[l.file] = f
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return state, nil
}

// templateProblems places the problems awsstate.Parse found in a file
// built from the templates' `aws` result at templates/main.jsonnet and the
// key path under aws (the file's lines are not the user's).
func templateProblems(region string, err error) Errors {
	var out Errors
	for _, p := range diag.All(err) {
		e := *p
		e.File, e.Line, e.Col, e.BareKey, e.Region = EntryPoint, 0, 0, false, region
		e.Key = "aws." + e.Key
		if e.Key == "aws." {
			e.Key = "aws"
		}
		if e.Hint == "" || strings.Contains(e.Hint, "coderfleet render") {
			e.Hint = awsShapeHint
		}
		out = append(out, &e)
	}
	if len(out) == 0 {
		out = Errors{{Region: region, File: EntryPoint, Key: "aws", Msg: err.Error(), Hint: awsShapeHint}}
	}
	return out
}

// files returns the desired-state files of s, by file name, in
// awsstate.Marshal's canonical layout.
func (s awsState) files() (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, f := range s {
		b, err := awsstate.Marshal(*f)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// Annotations the cross-checks read.
const (
	// annotationRoleARN is the IRSA annotation of a ServiceAccount: the
	// ARN of the IAM role its pods assume
	// (https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html).
	annotationRoleARN = "eks.amazonaws.com/role-arn"
)

// regionObjects is what a region renders, for the cross-checks: the
// objects after the overlay by component, and the review files' objects
// (what HelmReleases will install).
type regionObjects struct {
	byComp map[string][]map[string]any
	review map[string][]map[string]any
}

// placedObject is a rendered object and where it was rendered: its
// component, or review/<file> for what a HelmRelease will install.
type placedObject struct {
	where string
	obj   map[string]any
}

// all returns every object, components first (in name order), then the
// review files' ones.
func (ro regionObjects) all() []placedObject {
	var out []placedObject
	for _, c := range slices.Sorted(maps.Keys(ro.byComp)) {
		for _, m := range ro.byComp[c] {
			out = append(out, placedObject{c, m})
		}
	}
	for _, f := range slices.Sorted(maps.Keys(ro.review)) {
		for _, m := range ro.review[f] {
			out = append(out, placedObject{ReviewDir + "/" + f, m})
		}
	}
	return out
}

// crossCheck checks the AWS desired state of region r against the objects
// rendered beside it (after the overlay). Each problem names both sides:
// the key under aws in templates/main.jsonnet and the rendered object.
//   - every record's alias names a Service of type LoadBalancer;
//   - every load balancer certificate ARN that sync wrote to
//     overlays/<region>/outputs.yaml (config.region.certificates) is the
//     ARN of a certificate of aws.certificates, by name;
//   - when roles.yaml is written (IAM managed): every ServiceAccount's
//     eks.amazonaws.com/role-arn is the ARN of the role of aws.roles for
//     that ServiceAccount, and every role's ServiceAccount is rendered;
//   - every ExternalSecret reads through a SecretStore of its namespace
//     whose role may read each of its secrets (checkExternalSecrets); the
//     secrets the region does not list itself are returned, for
//     checkSecretRefs once every region is rendered.
func crossCheck(accountID string, r *config.RegionConfig, state awsState, ro regionObjects, bl *blamer) (Errors, []secretRef) {
	var errs Errors
	errs = append(errs, checkRecordAliases(r.Region.Name, state, ro)...)
	errs = append(errs, checkCertificateRefs(r, state, ro, bl)...)
	if roles := state[awsstate.RolesFile]; roles != nil {
		errs = append(errs, checkRoles(accountID, r, roles.Roles, ro, bl)...)
	}
	secretErrs, pending := checkExternalSecrets(accountID, r, state, ro, bl)
	return append(errs, secretErrs...), pending
}

// checkRecordAliases refuses a record whose alias names no Service of
// type LoadBalancer rendered in the region.
func checkRecordAliases(region string, state awsState, ro regionObjects) Errors {
	recs := state[awsstate.RecordsFile]
	if recs == nil {
		return nil
	}
	types := map[string]string{} // namespace/name -> Service type
	var lbs []string
	for _, p := range ro.all() {
		if str(p.obj, "kind") != "Service" || str(p.obj, "apiVersion") != "v1" {
			continue
		}
		id := str(p.obj, "metadata", "namespace") + "/" + str(p.obj, "metadata", "name")
		types[id] = cmp.Or(str(p.obj, "spec", "type"), "ClusterIP")
		if types[id] == "LoadBalancer" {
			lbs = append(lbs, id)
		}
	}
	there := "none"
	if len(lbs) > 0 {
		there = strings.Join(lbs, ", ")
	}
	var errs Errors
	for i, rec := range recs.Records {
		side := fmt.Sprintf("%s record %s", awsstate.RecordsFile, rec.Key())
		t, ok := types[rec.Alias.Service]
		var msg string
		switch {
		case !ok:
			msg = fmt.Sprintf("%s: alias service %s is not rendered in region %s (Services of type LoadBalancer there: %s)", side, rec.Alias.Service, region, there)
		case t != "LoadBalancer":
			msg = fmt.Sprintf("%s: alias service %s is a Service of type %s in region %s, which has no load balancer to point at (Services of type LoadBalancer there: %s)", side, rec.Alias.Service, t, region, there)
		default:
			continue
		}
		errs = append(errs, &Error{Region: region, File: EntryPoint, Key: fmt.Sprintf("aws.records[%d].alias.service", i), Msg: msg,
			Hint: "build the record from the rendered Service object (templates/lib/aws.libsonnet record(config, name, service)), so a renamed Service takes its records along; an overlay must not rename or remove a Service a record points at"})
	}
	return errs
}

// checkCertificateRefs refuses a Service whose load balancer certificate
// (service.beta.kubernetes.io/aws-load-balancer-ssl-cert, a comma list) is
// an ARN sync issued for a certificate the region's aws.certificates no
// longer has. An ARN from a setting (certificateARN) is the user's own
// certificate and is checked by config; a certificate not issued yet
// renders no annotation.
func checkCertificateRefs(r *config.RegionConfig, state awsState, ro regionObjects, bl *blamer) Errors {
	certs := state[awsstate.CertificatesFile]
	if certs == nil || len(r.Certificates) == 0 {
		return nil
	}
	var names []string
	for _, c := range certs.Certificates {
		names = append(names, c.Name)
	}
	issued := map[string]string{} // ARN -> its name in outputs.yaml
	for _, n := range slices.Sorted(maps.Keys(r.Certificates)) {
		issued[r.Certificates[n]] = n
	}
	var errs Errors
	for _, p := range ro.all() {
		if str(p.obj, "kind") != "Service" {
			continue
		}
		for arn := range strings.SplitSeq(str(p.obj, "metadata", "annotations", annotationSSLCert), ",") {
			name, fromOutputs := issued[strings.TrimSpace(arn)]
			if !fromOutputs || slices.Contains(names, name) {
				continue
			}
			e := &Error{Region: r.Region.Name, Component: p.where, Object: ref(p.obj), Field: "metadata.annotations." + annotationSSLCert,
				Msg: fmt.Sprintf("the load balancer certificate %s is certificate %q of %s/outputs.yaml, which is not a certificate of the region's aws.certificates in %s (certificates there: %s)",
					strings.TrimSpace(arn), name, r.Dir, EntryPoint, strings.Join(names, ", ")),
				Hint: "look the ARN up by the name of a certificate the component returns in aws.certificates (templates/lib/aws.libsonnet certificateARN(config, cert.name))"}
			bl.blameObject(e)
			errs = append(errs, e)
		}
	}
	return errs
}

// serviceAccount is a ServiceAccount the region renders or a HelmRelease
// will create, and where it is declared.
type serviceAccount struct {
	id      string // namespace/name
	roleARN string // its eks.amazonaws.com/role-arn, or ""
	where   string // component or review/<file>
	object  string // the object declaring it (the ServiceAccount or the HelmRelease)
	field   string // the field holding the annotation
}

// serviceAccounts lists the ServiceAccounts of the region: rendered ones,
// those in the review files (what charts will install), and those a
// HelmRelease's values declare: every `serviceAccount` mapping in
// spec.values, named by its `name` or, without one, by the release name
// (the name most charts give it), in the release's target namespace.
func serviceAccounts(ro regionObjects) []serviceAccount {
	var out []serviceAccount
	for _, p := range ro.all() {
		switch str(p.obj, "kind") {
		case "ServiceAccount":
			out = append(out, serviceAccount{id: str(p.obj, "metadata", "namespace") + "/" + str(p.obj, "metadata", "name"),
				roleARN: str(p.obj, "metadata", "annotations", annotationRoleARN), where: p.where, object: ref(p.obj),
				field: "metadata.annotations." + annotationRoleARN})
		case "HelmRelease":
			ns := cmp.Or(str(p.obj, "spec", "targetNamespace"), str(p.obj, "metadata", "namespace"))
			release := cmp.Or(str(p.obj, "spec", "releaseName"), str(p.obj, "metadata", "name"))
			spec, _ := p.obj["spec"].(map[string]any)
			values := spec["values"]
			walkServiceAccountValues(values, "spec.values", func(at string, sa map[string]any) {
				name, named := sa["name"].(string)
				if !named || name == "" {
					name = release
				}
				annotations, _ := sa["annotations"].(map[string]any)
				arn, _ := annotations[annotationRoleARN].(string)
				if !named {
					arn = "" // the chart's own name may differ: checked in its review file
				}
				out = append(out, serviceAccount{id: ns + "/" + name, roleARN: arn, where: p.where, object: ref(p.obj),
					field: at + ".annotations." + annotationRoleARN})
			})
		}
	}
	return out
}

// walkServiceAccountValues calls fn for every mapping under a
// `serviceAccount` key of Helm values v, with its dotted path.
func walkServiceAccountValues(v any, at string, fn func(at string, sa map[string]any)) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if sa, ok := m[k].(map[string]any); ok && k == "serviceAccount" {
			fn(at+"."+k, sa)
			continue
		}
		walkServiceAccountValues(m[k], at+"."+k, fn)
	}
}

// checkRoles refuses a role whose ServiceAccount the region does not
// render, and a ServiceAccount whose role ARN annotation is not the ARN
// of its role in aws.roles (awsstate.Role.ARN, in the partition of the
// region's AWS region and the fleet's account).
func checkRoles(accountID string, r *config.RegionConfig, roles []awsstate.Role, ro regionObjects, bl *blamer) Errors {
	region := r.Region.Name
	partition := awsrules.Partition(r.Region.AWSRegion)
	sas := serviceAccounts(ro)
	byID := map[string]awsstate.Role{}
	var errs Errors
	for i, role := range roles {
		id := role.ServiceAccount.Namespace + "/" + role.ServiceAccount.Name
		byID[id] = role
		if slices.ContainsFunc(sas, func(s serviceAccount) bool { return s.id == id }) {
			continue
		}
		var inNS []string
		for _, s := range sas {
			if strings.HasPrefix(s.id, role.ServiceAccount.Namespace+"/") && !slices.Contains(inNS, s.id) {
				inNS = append(inNS, s.id)
			}
		}
		there := "none"
		if len(inNS) > 0 {
			there = strings.Join(inNS, ", ")
		}
		errs = append(errs, &Error{Region: region, File: EntryPoint, Key: fmt.Sprintf("aws.roles[%d].serviceAccount", i),
			Msg: fmt.Sprintf("%s role %s: its trust subject %s names ServiceAccount %s, which is not rendered in region %s (ServiceAccounts in namespace %s: %s)",
				awsstate.RolesFile, role.Name, role.ServiceAccount.Subject(), id, region, role.ServiceAccount.Namespace, there),
			Hint: "build the role and its ServiceAccount together (templates/lib/iam.libsonnet role() and serviceAccount()), or declare an add-on's ServiceAccount in its HelmRelease values (serviceAccount.name)"})
	}
	for _, s := range sas {
		if s.roleARN == "" {
			continue
		}
		role, ok := byID[s.id]
		var msg string
		switch {
		case !ok:
			msg = fmt.Sprintf("ServiceAccount %s assumes role %s, but %s has no role for it in %s (aws.roles)", s.id, s.roleARN, awsstate.RolesFile, EntryPoint)
		case role.ARN(partition, accountID) != s.roleARN:
			msg = fmt.Sprintf("ServiceAccount %s assumes role %s, but its role %s in %s (aws.roles) has ARN %s", s.id, s.roleARN, role.Name, EntryPoint, role.ARN(partition, accountID))
		default:
			continue
		}
		e := &Error{Region: region, Component: s.where, Object: s.object, Field: s.field, Msg: msg,
			Hint: "annotate the ServiceAccount with its role's ARN (templates/lib/iam.libsonnet serviceAccount(config, role)); an overlay must not change it"}
		bl.blameObject(e)
		errs = append(errs, e)
	}
	return errs
}
