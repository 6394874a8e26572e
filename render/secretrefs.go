package render

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/awsrules"
)

// The External Secrets kinds the cross-check reads
// (https://external-secrets.io, API external-secrets.io/v1).
const (
	esoAPIVersion     = "external-secrets.io/v1"
	kindExternal      = "ExternalSecret"
	kindSecretStore   = "SecretStore"
	secretReadAction  = "secretsmanager:GetSecretValue"
	secretRefHint     = "read secrets the templates list: the region's aws.secrets (secrets.yaml) or the tokenSecret of aws.workspaceProxies / aws.provisionerKeys, in the AWS region of the SecretStore the ExternalSecret names (templates/lib/secrets.libsonnet read() and externalSecret()); an overlay must not point an ExternalSecret elsewhere; a region not rendered in this run is read from its committed regions/<region>/aws/, so render the region that lists the secret too"
	secretRoleHint    = "build the ExternalSecret from a read the component returns in secretReads (templates/lib/secrets.libsonnet), so components/secretstores.libsonnet grants its store's role exactly that secret; an overlay must not change remoteRef.key or the store"
	secretListedFiles = awsstate.SecretsFile + ", " + awsstate.WorkspaceProxiesFile + " or " + awsstate.ProvisionerKeysFile
)

// outputDir is the folder the CLI writes the regions' trees to, where
// the committed desired state of regions not rendered in a run is read.
const outputDir = "regions"

// regionSecrets are the secrets a region's desired state lists and the
// secrets its ExternalSecrets read that it does not list.
type regionSecrets struct {
	listed  secretIndex
	pending []secretRef
}

// secretIndex maps "<awsRegion> <name>" of each Secrets Manager secret a
// region's desired state lists to where it is listed
// (regions/<region>/aws/<file>).
type secretIndex map[string]string

// secretKey is the index key of secret name in awsRegion.
func secretKey(awsRegion, name string) string { return awsRegion + " " + name }

// add lists the secrets of desired-state file f of region.
func (ix secretIndex) add(region string, f *awsstate.File) {
	at := "regions/" + region + "/" + AWSDir + "/"
	for _, s := range f.Secrets {
		ix[secretKey(s.AWSRegion, s.Name)] = at + awsstate.SecretsFile
	}
	for _, p := range f.WorkspaceProxies {
		ix[secretKey(p.TokenSecret.AWSRegion, p.TokenSecret.Name)] = at + awsstate.WorkspaceProxiesFile
	}
	for _, k := range f.ProvisionerKeys {
		ix[secretKey(k.TokenSecret.AWSRegion, k.TokenSecret.Name)] = at + awsstate.ProvisionerKeysFile
	}
}

// secrets returns the index of the secrets region's state lists.
func (s awsState) secrets(region string) secretIndex {
	ix := secretIndex{}
	for _, f := range s {
		ix.add(region, f)
	}
	return ix
}

// secretRef is a secret an ExternalSecret reads that its own region does
// not list: another region may (the primary lists the key sync secret
// every region reads). err is reported when none does.
type secretRef struct {
	key string // secretKey
	err *Error
}

// checkExternalSecrets checks every ExternalSecret of region r: it reads
// through a SecretStore of its namespace; each remoteRef.key is a secret
// the region lists in the store's AWS region (or, returned in pending,
// one the other regions must list); and, when roles.yaml is written, the
// store's ServiceAccount's role may call GetSecretValue on it.
func checkExternalSecrets(accountID string, r *config.RegionConfig, state awsState, ro regionObjects, bl *blamer) (Errors, []secretRef) {
	region := r.Region.Name
	partition := awsrules.Partition(r.Region.AWSRegion)
	local := state.secrets(region)
	stores := map[string]map[string]any{} // namespace/name -> SecretStore
	for _, p := range ro.all() {
		if str(p.obj, "apiVersion") == esoAPIVersion && str(p.obj, "kind") == kindSecretStore {
			stores[str(p.obj, "metadata", "namespace")+"/"+str(p.obj, "metadata", "name")] = p.obj
		}
	}
	var roles map[string]awsstate.Role // ServiceAccount namespace/name -> role
	if f := state[awsstate.RolesFile]; f != nil {
		roles = map[string]awsstate.Role{}
		for _, role := range f.Roles {
			roles[role.ServiceAccount.Namespace+"/"+role.ServiceAccount.Name] = role
		}
	}
	var errs Errors
	var pending []secretRef
	fail := func(p placedObject, field, msg, hint string) *Error {
		e := &Error{Region: region, Component: p.where, Object: ref(p.obj), Field: field, Msg: msg, Hint: hint}
		bl.blameObject(e)
		return e
	}
	for _, p := range ro.all() {
		if str(p.obj, "apiVersion") != esoAPIVersion || str(p.obj, "kind") != kindExternal {
			continue
		}
		ns := str(p.obj, "metadata", "namespace")
		es := ref(p.obj)
		storeName := str(p.obj, "spec", "secretStoreRef", "name")
		store, ok := stores[ns+"/"+storeName]
		if kind := str(p.obj, "spec", "secretStoreRef", "kind"); kind != kindSecretStore || !ok {
			var there []string
			for _, id := range slices.Sorted(maps.Keys(stores)) {
				if strings.HasPrefix(id, ns+"/") {
					there = append(there, strings.TrimPrefix(id, ns+"/"))
				}
			}
			errs = append(errs, fail(p, "spec.secretStoreRef",
				fmt.Sprintf("%s reads through %s %q, which is not a SecretStore rendered in namespace %s of region %s (SecretStores there: %s)",
					es, kind, storeName, ns, region, orNone(there)),
				"name the namespace's SecretStore of the secret's AWS region (templates/lib/secrets.libsonnet storeName(awsRegion)); components/secretstores.libsonnet makes one per namespace and AWS region the namespace reads from"))
			continue
		}
		awsRegion := str(store, "spec", "provider", "aws", "region")
		sa := ns + "/" + str(store, "spec", "provider", "aws", "auth", "jwt", "serviceAccountRef", "name")
		data, _ := p.obj["spec"].(map[string]any)["data"].([]any)
		for i, d := range data {
			dm, _ := d.(map[string]any)
			name := str(dm, "remoteRef", "key")
			field := fmt.Sprintf("spec.data[%d].remoteRef.key", i)
			if _, listed := local[secretKey(awsRegion, name)]; !listed {
				pending = append(pending, secretRef{key: secretKey(awsRegion, name), err: fail(p, field,
					fmt.Sprintf("%s reads secret %q in %s (SecretStore %s/%s), which no region's %s lists in %s (region %s lists: %s)",
						es, name, awsRegion, ns, storeName, secretListedFiles, awsRegion, region, orNone(local.namesIn(awsRegion))),
					secretRefHint)})
			}
			if roles == nil {
				continue // iam.mode external: the roles are made elsewhere
			}
			arn := "arn:" + partition + ":secretsmanager:" + awsRegion + ":" + accountID + ":secret:" + name + "-AbCdEf"
			role, ok := roles[sa]
			var msg string
			switch {
			case !ok:
				msg = fmt.Sprintf("%s reads secret %q through SecretStore %s/%s, whose ServiceAccount %s has no role in %s (aws.roles)", es, name, ns, storeName, sa, awsstate.RolesFile)
			case !mayRead(role, arn):
				msg = fmt.Sprintf("%s reads secret %q in %s through SecretStore %s/%s, but role %s of its ServiceAccount %s (%s, aws.roles) may not call %s on it",
					es, name, awsRegion, ns, storeName, role.Name, sa, awsstate.RolesFile, secretReadAction)
			default:
				continue
			}
			errs = append(errs, fail(p, field, msg, secretRoleHint))
		}
	}
	return errs, pending
}

// namesIn returns the names the index lists in awsRegion, sorted.
func (ix secretIndex) namesIn(awsRegion string) []string {
	var out []string
	for k := range ix {
		if r, name, _ := strings.Cut(k, " "); r == awsRegion {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// mayRead reports whether an Allow statement of role's inline policies
// grants secretReadAction on the secret ARN arn. Actions and resources
// match as IAM matches them: case-insensitive actions, and the wildcards
// * and ? (IAM policy grammar).
func mayRead(role awsstate.Role, arn string) bool {
	for _, p := range role.InlinePolicies {
		for _, st := range p.Document.Statement {
			if st.Effect != "Allow" || len(st.Condition) > 0 {
				continue
			}
			if slices.ContainsFunc(st.Action, func(a string) bool { return iamMatch(strings.ToLower(a), strings.ToLower(secretReadAction)) }) &&
				slices.ContainsFunc(st.Resource, func(r string) bool { return iamMatch(r, arn) }) {
				return true
			}
		}
	}
	return false
}

// iamMatch reports whether value matches IAM pattern p, where * is any
// run of characters and ? one character.
func iamMatch(p, value string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(p)) + "$"
	ok, _ := regexp.MatchString(re, value)
	return ok
}

// checkSecretRefs reports each pending secretRef of the rendered regions
// that no region lists: those rendered in this run (fleet), and the others
// from their committed desired state under regions/ (read with read,
// which returns nil for a file that is absent), in region order and only
// until every pending secret is found.
func checkSecretRefs(cfg *config.Config, fleet secretIndex, rendered map[string]bool, pending []secretRef, read func(rel string) ([]byte, error)) (Errors, error) {
	if len(pending) == 0 {
		return nil, nil
	}
	unresolved := func() bool {
		for _, p := range pending {
			if _, ok := fleet[p.key]; !ok {
				return true
			}
		}
		return false
	}
	for _, r := range cfg.Regions {
		if !unresolved() {
			break // every pending secret is listed: the other folders cannot change the outcome
		}
		if rendered[r.Region.Name] {
			continue
		}
		for _, file := range []string{awsstate.SecretsFile, awsstate.WorkspaceProxiesFile, awsstate.ProvisionerKeysFile} {
			rel := path.Join(outputDir, r.Region.Name, AWSDir, file)
			data, err := read(rel)
			if err != nil {
				return nil, err
			}
			if data == nil {
				continue
			}
			f, err := awsstate.Parse(rel, data)
			if err != nil {
				continue // sync and check report a broken file
			}
			fleet.add(r.Region.Name, f)
		}
	}
	var errs Errors
	for _, p := range pending {
		if _, ok := fleet[p.key]; !ok {
			errs = append(errs, p.err)
		}
	}
	return errs, nil
}
