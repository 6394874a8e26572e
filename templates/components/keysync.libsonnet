// Key sync (domain-spec A5): puts the current LiteLLM virtual key from
// Secrets Manager into Secret `litellm` (key `token`) of every workspace
// namespace. Two modes:
//  - externalsecrets: an ExternalSecret refreshed every
//    keySync.refreshInterval, read through the namespace's SecretStore of
//    the primary's AWS region (components/secretstores.libsonnet);
//  - cronjob: a CronJob whose Role may only read and update that one Secret
//    (resourceNames), created empty by Flux only if absent.
local iam = import '../lib/iam.libsonnet';
local k = import '../lib/k.libsonnet';
local secrets = import '../lib/secrets.libsonnet';

function(config) {
  local ks = config.settings.keySync,
  local secretRegion = config.primary.awsRegion,
  // The CronJob's ServiceAccount (cronjob mode) in each workspace
  // namespace; the CronJob and its RoleBinding carry the same name.
  local account = 'rotate-key',

  local syncScript = |||
    set -eu
    key=$(aws secretsmanager get-secret-value --region "$AWS_SECRET_REGION" --secret-id "$AWS_SECRETS_MANAGER_ID" \
      --query SecretString --output text | jq -r .LITELLM_MASTER_KEY)
    test -n "$key" && test "$key" != null
    kubectl -n "$K8S_NAMESPACE" patch secret litellm --type merge \
      -p "{\"data\": {\"token\": \"$(printf %s "$key" | base64 | tr -d '\n')\"}}" >/dev/null
    echo "synced the workspace key into $K8S_NAMESPACE/litellm"
  |||,

  // The cronjob's role: one per namespace, since a role trusts exactly
  // one ServiceAccount; it may only read the one secret.
  local role(ns) = iam.role(config,
                            'keysync-' + ns,
                            ns,
                            account,
                            'Key sync (' + ns + '/' + account + ') reads the LiteLLM workspace key from secret ' + ks.secretID,
                            [iam.policy('secret-read', iam.secretStatements(config, ['secretsmanager:GetSecretValue'], ['kms:Decrypt']))]),

  // externalsecrets mode: the namespace's store of the primary's AWS
  // region (components/secretstores.libsonnet) reads the secret.
  local read(ns) = secrets.read(ns,
                                'litellm',
                                { name: ks.secretID, awsRegion: secretRegion, kmsKeyID: ks.kmsKeyID },
                                { token: 'LITELLM_MASTER_KEY' },
                                ks.refreshInterval),
  local external = ks.mode == 'externalsecrets',

  local cronjob(ns) = [
    iam.serviceAccount(config, role(ns), ks.roleARN),
    k.role(ns, 'rotate-key', [
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['litellm'], verbs: ['get', 'patch', 'update'] },
    ]),
    k.roleBinding(ns, account, 'rotate-key', account),
    {
      // Created empty, once: Flux never overwrites it (ssa: IfNotPresent),
      // so the CronJob needs no `create` permission and no value is in git.
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'litellm',
        namespace: ns,
        annotations: { 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' },
      },
      type: 'Opaque',
    },
    k.cronJob(ns, account, ks, ks.syncSchedule, syncScript, {
      AWS_SECRETS_MANAGER_ID: ks.secretID,
      AWS_SECRET_REGION: secretRegion,
      K8S_NAMESPACE: ns,
    }),
  ],

  // Flux dependsOn (components/flux.libsonnet): in the primary region,
  // LiteLLM (whose CronJob issues the key) when it runs there; elsewhere the
  // workspace namespaces.
  // The stores come first in both.
  dependsOn: (if config.region.role == 'primary' && config.settings.litellm.enabled then ['litellm'] else ['namespaces']) + ['secretstores'],
  // The ServiceAccounts this component makes in every workspace namespace,
  // in any mode (main.jsonnet's `owned`): the CronJob's in cronjob mode.
  workspaceServiceAccounts: [account],
  roles: if external then [] else iam.roles(config, [role(ws.name) for ws in config.settings.workspaceNamespaces]),
  secretReads: if external then [read(ws.name) for ws in config.settings.workspaceNamespaces] else [],
  objects: std.flattenArrays([
    if external then [secrets.externalSecret(read(ws.name))] else cronjob(ws.name)
    for ws in config.settings.workspaceNamespaces
  ]),
}
