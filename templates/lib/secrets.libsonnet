// Kubernetes Secrets read from AWS Secrets Manager through the External
// Secrets Operator (domain-spec F). A component that references a Secret
// describes where its value lives with read() and renders the
// ExternalSecret with externalSecret(); it returns its reads as
// `secretReads`, and main.jsonnet gives every namespace that reads
// secrets one ServiceAccount `secret-reader` with its own IRSA role
// (GetSecretValue on exactly those secrets) and one SecretStore per AWS
// region the secrets live in (components/secretstores.libsonnet).
local aws = import 'aws.libsonnet';

{
  // Whether the Secrets the manifests reference come through External
  // Secrets (setting secrets.mode: externalsecrets); manual: the team makes
  // them, and no ExternalSecret, store or role is rendered for them.
  external(config):: config.settings.secrets.mode == 'externalsecrets',

  // The ServiceAccount every SecretStore of a namespace authenticates as.
  readerAccount:: 'secret-reader',

  // The SecretStore of a namespace for secrets of AWS region awsRegion.
  storeName(awsRegion):: 'secretsmanager-' + awsRegion,

  // The Secrets Manager name of the secret behind Secret ns/secret of this
  // region: <fleet>/<region>/<namespace>/<Secret>.
  name(config, ns, secret):: config.fleet.name + '/' + config.region.name + '/' + ns + '/' + secret,

  // A secrets.yaml item: a secret of this region's AWS region that sync
  // creates without a value and the user fills with the JSON object of
  // keys (the Kubernetes Secret's keys), read by Secret ns/secret (usedBy
  // says who uses it).
  userSecret(config, ns, secret, keys, usedBy)::
    local n = $.name(config, ns, secret);
    {
      name: n,
      awsRegion: config.region.awsRegion,
      description: 'Put the JSON object {' + std.join(', ', ['"' + k + '": ...' for k in keys]) + '} here; External Secrets copies it into Secret '
                   + ns + '/' + secret + ' (' + usedBy + ') of cluster ' + config.region.clusterName + '. Managed by coderfleet.',
      tags: aws.tags(config, n),
    },

  // The secrets the user fills for the Secrets of namespace ns described
  // by specs ([{name, keys, usedBy}]: each Secret's name, its keys, who
  // uses it): {secrets: secrets.yaml items, reads: their reads, each key
  // from the JSON key of the same name}; both empty in manual mode.
  userSecrets(config, ns, specs)::
    local pairs = [{ spec: x, secret: $.userSecret(config, ns, x.name, x.keys, x.usedBy) } for x in specs];
    if !$.external(config) then { secrets: [], reads: [] } else {
      secrets: [p.secret for p in pairs],
      reads: [
        $.read(ns, p.spec.name, p.secret, { [key]: key for key in p.spec.keys }, config.settings.secrets.refreshInterval)
        for p in pairs
      ],
    },

  // The token secret of a Coder object (workspace proxy, provisioner key)
  // whose Secret is ns/secret (key key): sync stores the one-time token
  // there as a plain string.
  tokenSecret(config, ns, secret, key, what)::
    local n = $.name(config, ns, secret);
    local to = if $.external(config) then 'External Secrets copies it into' else 'copy it into (secrets.mode manual)';
    {
      name: n,
      awsRegion: config.region.awsRegion,
      description: 'The token of ' + what + ', written by coderfleet sync when it registers it; ' + to + ' Secret ' + ns + '/' + secret + ' key ' + key + ' of cluster ' + config.region.clusterName + '. Managed by coderfleet.',
      tags: aws.tags(config, n),
    },

  // What Secret ns/target reads: keys maps each key of the Secret to the
  // JSON key (property) of secret (a secrets.yaml item or token secret:
  // name, awsRegion, kmsKeyID?), or to null for the whole plain value.
  read(ns, target, secret, keys, refreshInterval):: {
    namespace: ns,
    target: target,
    secret: { name: secret.name, awsRegion: secret.awsRegion, kmsKeyID: std.get(secret, 'kmsKeyID', '') },
    keys: keys,
    refreshInterval: refreshInterval,
  },

  // The ExternalSecret of a read: Secret target, owned by the
  // ExternalSecret, refreshed every read.refreshInterval through the
  // namespace's store of the secret's AWS region.
  externalSecret(read):: {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: read.target, namespace: read.namespace },
    spec: {
      refreshInterval: read.refreshInterval,
      secretStoreRef: { kind: 'SecretStore', name: $.storeName(read.secret.awsRegion) },
      target: { name: read.target, creationPolicy: 'Owner', deletionPolicy: 'Retain' },
      data: [
        { secretKey: k, remoteRef: { key: read.secret.name } + (if read.keys[k] == null then {} else { property: read.keys[k] }) }
        for k in std.objectFields(read.keys)
      ],
    },
  },
}
