// Package validate checks every object coderfleet renders before it is
// written: a strict schema check, policy checks and a secret guard. The
// checks are pure functions of their inputs (no filesystem, clock or network)
// and return every problem found, each naming the region, component, object
// (Kind/namespace/name), field path, what is wrong and a hint.
//
// # Schema
//
// Built-in Kubernetes kinds are decoded into their k8s.io/api Go types, Flux
// kinds into the published Flux API types (kustomize.toolkit.fluxcd.io/v1,
// source.toolkit.fluxcd.io/v1, helm.toolkit.fluxcd.io/v2) and External
// Secrets kinds (external-secrets.io/v1 ExternalSecret and SecretStore) into
// a strict typed subset this package defines for exactly the fields
// coderfleet emits. Decoding is case-sensitive and rejects unknown and
// duplicate fields, naming the field. An apiVersion/kind that is not known,
// or a built-in alpha/beta version, is a problem unless Options.AllowKinds
// lists it.
//
// # Policies
//
// On every pod template (Pod, Deployment, StatefulSet, DaemonSet,
// ReplicaSet, ReplicationController, Job, CronJob):
//   - images are pinned: a tag other than "latest" or a digest;
//   - every container and init container sets requests and limits for cpu
//     and memory;
//   - every container runs as non-root (runAsNonRoot: true at container or
//     pod level, and runAsUser is not 0);
//   - every container sets allowPrivilegeEscalation: false and is not
//     privileged;
//   - containers of long-running workloads (Deployment, StatefulSet,
//     DaemonSet, ReplicaSet, ReplicationController, Pod that restarts
//     always) have a readiness and a liveness probe; Jobs and CronJobs are
//     exempt.
//
// On every object: an eks.amazonaws.com/role-arn annotation (IRSA) is a valid
// IAM role ARN and sits on a ServiceAccount; a Secret carries no data or
// stringData (values come from External Secrets or the key-sync job, never
// from git).
//
// # Secret guard
//
// Every string value of every object (map keys excluded) and every string
// scalar of the AWS desired-state files is matched against this heuristic:
//   - AWS access key ids: AKIA or ASIA followed by 16 upper-case letters or
//     digits, as a whole word;
//   - AWS secret access keys: a 40-character value of [A-Za-z0-9/+=] with
//     upper- and lower-case letters and a digit, '/' or '+', either as the
//     whole value of an env var or map entry whose name contains SECRET or
//     KEY (any case), or after "aws_secret_access_key" and '=' or ':' inside
//     a longer text;
//   - PEM private keys: "-----BEGIN ... PRIVATE KEY-----" (RSA, EC, DSA,
//     OPENSSH, ENCRYPTED, PGP ... BLOCK);
//   - JSON Web Tokens: three base64url segments separated by dots whose
//     first two start with "eyJ" (the encoding of `{"`);
//   - URLs with a password: scheme://user:password@host, unless the
//     password is a reference expanded later: $(VAR), ${VAR} or a {{ ... }}
//     template;
//   - token formats of gitleaks' default rule set
//     (github.com/zricethezav/gitleaks/v8, config/gitleaks.toml: GitHub,
//     GitLab, Slack, Stripe, Google, OpenAI, Anthropic and about 200 more,
//     and its generic-api-key rule for "key = high-entropy value" inside a
//     text), on values of 16 characters or more holding a rule's keyword;
//   - literals in container env vars whose name ends in KEY, TOKEN, SECRET,
//     PASSWORD or PASSWD (any case), whatever their format;
//   - literals under map keys, and in "key: value" lines of multi-line
//     texts (a ConfigMap's config.yaml), whose key ends in api_key,
//     access_key, master_key, password, passwd, secret or token (compared
//     without case, '_', '-' and '.');
//   - generic assignments inside a text: a name ending in password, passwd,
//     pwd, token, secret or api_key/apikey/api-key, then '=' and a non-empty
//     value that is not such a reference (query strings, connection strings,
//     command-line flags).
//
// A literal is a value that is not empty, not a reference expanded later
// ($(VAR), ${VAR}, {{ ... }}, LiteLLM's os.environ/VAR), not a YAML null
// and not an absolute file path. Values of a v1 Secret's data and
// stringData are left to the secret-data policy, which refuses them all.
//
// Messages never repeat the suspected credential; they show at most its
// first four characters. A known false positive is accepted by a
// secretGuard.allow entry in overlays/fleet.yaml naming the object
// (<component>/<Kind>/<namespace>/<name>, or <component>/<Kind>/<name> for
// cluster-scoped objects; aws/<file> for AWS desired-state files), the exact
// field path as printed in the finding, and a reason. Allowances do not
// apply to the Secret-with-data policy.
//
// # Field paths
//
// Paths are dotted from the object's root. List items are named by their
// "name" field when they have one (containers[coder].env[CODER_ACCESS_URL])
// and by index otherwise (tolerations[0]); map keys that are not plain
// identifiers are quoted (metadata.annotations["eks.amazonaws.com/role-arn"]).
package validate
