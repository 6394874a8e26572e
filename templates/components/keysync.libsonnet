// Key sync (domain-spec A5): puts the current LiteLLM virtual key from
// Secrets Manager into Secret `litellm` (key `token`) of every workspace
// namespace. Two modes:
//  - externalsecrets: an External Secrets Operator SecretStore (IRSA) and an
//    ExternalSecret refreshed every keySync.refreshInterval;
//  - cronjob: a CronJob whose Role may only read and update that one Secret
//    (resourceNames), created empty by Flux only if absent.
local iam = import '../lib/iam.libsonnet';
local k = import '../lib/k.libsonnet';

function(config) {
  local ks = config.settings.keySync,
  local secretRegion = config.primary.awsRegion,

  local syncScript = |||
    set -eu
    key=$(aws secretsmanager get-secret-value --region "$AWS_SECRET_REGION" --secret-id "$AWS_SECRETS_MANAGER_ID" \
      --query SecretString --output text | jq -r .LITELLM_MASTER_KEY)
    test -n "$key" && test "$key" != null
    kubectl -n "$K8S_NAMESPACE" patch secret litellm --type merge \
      -p "{\"data\": {\"token\": \"$(printf %s "$key" | base64 | tr -d '\n')\"}}" >/dev/null
    echo "synced the workspace key into $K8S_NAMESPACE/litellm"
  |||,

  // The ServiceAccount that reads the secret in namespace ns, by mode.
  local account = if ks.mode == 'externalsecrets' then 'litellm-key-sync' else 'rotate-key',
  // Its role: one per namespace, since a role trusts exactly one
  // ServiceAccount; it may only read the one secret.
  local role(ns) = iam.role(config,
                            'keysync-' + ns,
                            ns,
                            account,
                            'Key sync (%s/%s) reads the LiteLLM workspace key from secret %s' % [ns, account, ks.secretID],
                            [iam.policy('secret-read', iam.secretStatements(config, ['secretsmanager:GetSecretValue'], ['kms:Decrypt']))]),

  local externalSecrets(ns) = [
    iam.serviceAccount(config, role(ns), ks.roleARN),
    {
      apiVersion: 'external-secrets.io/v1',
      kind: 'SecretStore',
      metadata: { name: 'litellm-key', namespace: ns },
      spec: {
        provider: {
          aws: {
            service: 'SecretsManager',
            region: secretRegion,
            auth: { jwt: { serviceAccountRef: { name: 'litellm-key-sync' } } },
          },
        },
      },
    },
    {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'litellm', namespace: ns },
      spec: {
        refreshInterval: ks.refreshInterval,
        secretStoreRef: { kind: 'SecretStore', name: 'litellm-key' },
        target: { name: 'litellm', creationPolicy: 'Owner', deletionPolicy: 'Retain' },
        data: [{ secretKey: 'token', remoteRef: { key: ks.secretID, property: 'LITELLM_MASTER_KEY' } }],
      },
    },
  ],

  local cronjob(ns) = [
    iam.serviceAccount(config, role(ns), ks.roleARN),
    k.role(ns, 'rotate-key', [
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['litellm'], verbs: ['get', 'patch', 'update'] },
    ]),
    k.roleBinding(ns, 'rotate-key', 'rotate-key', 'rotate-key'),
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
    k.cronJob(ns, 'rotate-key', ks, ks.syncSchedule, syncScript, {
      AWS_SECRETS_MANAGER_ID: ks.secretID,
      AWS_SECRET_REGION: secretRegion,
      K8S_NAMESPACE: ns,
    }),
  ],

  // Flux dependsOn (components/flux.libsonnet): in the primary region,
  // LiteLLM (whose CronJob issues the key) when it runs there; elsewhere the
  // workspace namespaces.
  dependsOn: if config.region.role == 'primary' && config.settings.litellm.enabled then ['litellm'] else ['namespaces'],
  roles: iam.roles(config, [role(ws.name) for ws in config.settings.workspaceNamespaces]),
  objects: std.flattenArrays([
    if ks.mode == 'externalsecrets' then externalSecrets(ws.name) else cronjob(ws.name)
    for ws in config.settings.workspaceNamespaces
  ]),
}
