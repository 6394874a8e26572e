// The SecretStores External Secrets reads Secrets Manager through
// (domain-spec F): in every namespace whose components read secrets
// (their `secretReads`, lib/secrets.libsonnet), a ServiceAccount
// `secret-reader` whose IRSA role may read exactly those secrets, and one
// SecretStore per AWS region they live in.
local iam = import '../lib/iam.libsonnet';
local secrets = import '../lib/secrets.libsonnet';

function(config, reads) {
  local namespaces = std.set([r.namespace for r in reads]),
  local readsOf(ns) = [r for r in reads if r.namespace == ns],
  local secretsOf(ns) = std.set([r.secret for r in readsOf(ns)], function(s) s.awsRegion + ' ' + s.name),

  // GetSecretValue on each secret, and kms:Decrypt through Secrets
  // Manager of the secret's region on each KMS key that encrypts one.
  local role(ns) =
    local ss = secretsOf(ns);
    local kms = std.set([{ key: s.kmsKeyID, awsRegion: s.awsRegion } for s in ss if s.kmsKeyID != ''], function(k) k.awsRegion + ' ' + k.key);
    iam.role(config,
             'secrets-' + ns,
             ns,
             secrets.readerAccount,
             'External Secrets (' + ns + '/' + secrets.readerAccount + ') reads ' + std.join(', ', [s.name for s in ss]),
             [iam.policy('secret-read', [
               iam.allow(['secretsmanager:GetSecretValue'], std.set([iam.secretARN(config, s.name, s.awsRegion) for s in ss])),
             ] + [
               iam.allow(['kms:Decrypt'], [k.key], { StringEquals: { 'kms:ViaService': ['secretsmanager.' + k.awsRegion + '.amazonaws.com'] } })
               for k in kms
             ])]),

  local perNamespace(ns) =
    [iam.serviceAccount(config, role(ns), config.settings.secrets.roleARN)] + [
      {
        apiVersion: 'external-secrets.io/v1',
        kind: 'SecretStore',
        metadata: { name: secrets.storeName(awsRegion), namespace: ns },
        spec: {
          provider: {
            aws: {
              service: 'SecretsManager',
              region: awsRegion,
              auth: { jwt: { serviceAccountRef: { name: secrets.readerAccount } } },
            },
          },
        },
      }
      for awsRegion in std.set([s.awsRegion for s in secretsOf(ns)])
    ],

  // Flux dependsOn (components/flux.libsonnet): the namespaces first; the
  // components whose ExternalSecrets use a store come after this one.
  dependsOn: ['namespaces'],
  // The ServiceAccounts this component makes in every workspace namespace,
  // in any mode (main.jsonnet's `owned`): the stores' reader, in every
  // namespace that reads a secret (each workspace namespace reads its
  // provisioner key with secrets.mode externalsecrets).
  workspaceServiceAccounts: [secrets.readerAccount],
  roles: iam.roles(config, [role(ns) for ns in namespaces]),
  objects: std.flattenArrays([perNamespace(ns) for ns in namespaces]),
}
