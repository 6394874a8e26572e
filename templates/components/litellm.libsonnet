// LiteLLM, the LLM gateway, in the primary region (domain-spec A4), and the
// CronJob that rotates the virtual key workspaces use (A5, "generate").
// Exposure: `public` puts it behind its own NLB at llm.<domain> with its own
// certificate; `internal` (the default) keeps it a ClusterIP Service.
local aws = import '../lib/aws.libsonnet';
local iam = import '../lib/iam.libsonnet';
local k = import '../lib/k.libsonnet';
local secrets = import '../lib/secrets.libsonnet';

function(config) {
  local s = config.settings.litellm,
  local ks = config.settings.keySync,
  local ns = 'litellm',
  local selector = { 'app.kubernetes.io/name': 'litellm', 'app.kubernetes.io/instance': 'litellm' },
  local labels = k.labels('litellm', 'llm-gateway') + selector,
  local public = s.exposure == 'public',
  // LiteLLM's own name when public: llm.<domain>. No region may be called
  // so (main.jsonnet owns the region name), since a region's name is the
  // label of its own records.
  local domainName = $.dnsLabel + '.' + aws.domain(config),
  local cert = aws.certificate(config, 'litellm', domainName),
  local certArn = if s.certificateARN != '' then s.certificateARN else aws.certificateARN(config, cert.name),
  local bedrockRegion = if s.bedrockRegion != '' then s.bedrockRegion else config.region.awsRegion,

  // IRSA (domain-spec A4): LiteLLM invokes Bedrock models of bedrockRegion,
  // directly or through an inference profile of the account there. A
  // cross-region inference profile (us.*, eu.*) routes a call to the model
  // in another region, which IAM checks too: that is allowed only through
  // one of those profiles (condition bedrock:InferenceProfileArn).
  // ListInferenceProfiles takes no resource.
  local bedrockArn(region, account, resource) = 'arn:' + iam.partition(config) + ':bedrock:' + region + ':' + account + ':' + resource,
  local profiles = bedrockArn(bedrockRegion, config.fleet.awsAccountID, 'inference-profile/*'),
  local invoke = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
  local litellmRole = iam.role(config,
                               'litellm',
                               ns,
                               'litellm',
                               'LiteLLM (' + ns + '/litellm) invokes Bedrock models in ' + bedrockRegion,
                               [iam.policy('bedrock', [
                                 iam.allow(invoke, [bedrockArn(bedrockRegion, '', 'foundation-model/*'), profiles]),
                                 iam.allow(invoke, [bedrockArn('*', '', 'foundation-model/*')], { StringLike: { 'bedrock:InferenceProfileArn': [profiles] } }),
                                 iam.allow(['bedrock:ListInferenceProfiles'], ['*']),
                               ])]),
  // rotate-key (domain-spec A5, "generate") writes the new key into the
  // one secret.
  local rotateRole = iam.role(config,
                              'keyrotate',
                              ns,
                              'rotate-key',
                              'Key rotation (' + ns + '/rotate-key) writes the LiteLLM workspace key to secret ' + ks.secretID,
                              [iam.policy('secret-write', iam.secretStatements(config,
                                                                               ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecret'],
                                                                               ['kms:Decrypt', 'kms:GenerateDataKey']))]),

  // config.yaml as LiteLLM reads it; secrets are referenced through
  // os.environ/..., never written.
  local litellmConfig = {
    model_list: s.models,
    router_settings: s.routerSettings,
    general_settings: {
      master_key: 'os.environ/LITELLM_MASTER_KEY',
      database_url: 'os.environ/DATABASE_URL',
    },
    litellm_settings: { drop_params: true },
  },

  local service =
    if public then
      k.nlbService(ns, 'litellm', selector, s.loadBalancer, certArn, labels)
    else {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'litellm', namespace: ns, labels: labels },
      spec: {
        type: 'ClusterIP',
        selector: selector,
        ports: [{ name: 'http', port: 4000, protocol: 'TCP', targetPort: 'http' }],
      },
    },

  local rotateScript = |||
    set -eu
    # Issue a new virtual key valid for $KEY_LIFETIME and publish it. Older keys
    # are not deleted: they expire on their own, so workspaces that have not
    # synced yet keep working until their next sync.
    key=$(curl -fsS -X POST "$LITELLM_URL/key/generate" \
      -H "Authorization: Bearer $LITELLM_MASTER_KEY" -H 'Content-Type: application/json' \
      -d "{\"key_alias\": \"workspaces-$(date +%s)\", \"duration\": \"$KEY_LIFETIME\", \"metadata\": {\"user_id\": \"coder-workspaces\"}}" \
      | jq -r .key)
    test -n "$key" && test "$key" != null
    aws secretsmanager put-secret-value --region "$AWS_SECRET_REGION" --secret-id "$AWS_SECRETS_MANAGER_ID" \
      --secret-string "$(jq -cn --arg k "$key" '{LITELLM_MASTER_KEY: $k}')" >/dev/null
    echo "rotated the workspace key in $AWS_SECRETS_MANAGER_ID"
  |||,

  // The Secrets LiteLLM reads (secrets.mode externalsecrets: from secrets
  // the user fills, listed in secrets.yaml).
  local secretSpecs = [
    { name: 'litellm-db', keys: ['url'], usedBy: 'LiteLLM: DATABASE_URL' },
    { name: 'litellm-keys', keys: ['master-key', 'salt-key'], usedBy: 'LiteLLM and rotate-key: LITELLM_MASTER_KEY, LITELLM_SALT_KEY; never change the salt once models are stored' },
    { name: 'litellm-redis', keys: ['host', 'password'], usedBy: 'LiteLLM: REDIS_HOST, REDIS_PASSWORD' },
  ],
  local user = secrets.userSecrets(config, ns, secretSpecs),
  local reads = user.reads,
  secretReads: reads,

  namespace: ns,
  roles: iam.roles(config, [litellmRole, rotateRole]),
  // The Secrets Manager secret rotate-key writes and every workspace
  // namespace's key sync reads; sync creates it empty (no value) so
  // External Secrets has a target on day one.
  secrets: user.secrets + [{
    name: ks.secretID,
    awsRegion: config.region.awsRegion,
    description: 'LiteLLM virtual key for Coder workspaces ({"LITELLM_MASTER_KEY": ...}); written by the rotate-key CronJob in ' + config.region.clusterName + '/' + ns + ', read by key sync in every workspace namespace. Managed by coderfleet.',
    tags: aws.tags(config, ks.secretID),
  } + (if ks.kmsKeyID == '' then {} else { kmsKeyID: ks.kmsKeyID })],
  dnsLabel:: 'llm',

  aws: if public then {
    certificates: [cert],
    healthChecks: [],
    records: [aws.record(config, domainName, service)],
  } else aws.none,

  // Flux dependsOn (components/flux.libsonnet): coderd and the store its
  // ExternalSecrets read through first (LiteLLM runs in the primary region
  // only).
  dependsOn: ['coder', 'secretstores'],
  objects: [secrets.externalSecret(r) for r in reads] + [
    iam.serviceAccount(config, litellmRole, s.roleARN),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'litellm-config', namespace: ns, labels: labels },
      data: { 'config.yaml': std.manifestYamlDoc(litellmConfig, indent_array_in_object=true, quote_keys=false) },
    },
    service,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'litellm', namespace: ns, labels: labels },
      spec: {
        replicas: s.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: labels },
          spec: {
            serviceAccountName: 'litellm',
            securityContext: k.podSecurity(1000),
            topologySpreadConstraints: k.spreadOverHosts(selector),
            containers: [{
              name: 'litellm',
              image: k.image(s.image),
              imagePullPolicy: 'IfNotPresent',
              command: ['litellm', '--port', '4000', '--config', '/app/config.yaml'],
              env: k.env({
                LITELLM_MODE: 'PRODUCTION',
                LITELLM_LOG: 'ERROR',
                AWS_REGION_NAME: bedrockRegion,
                REDIS_PORT: '6379',
                REDIS_SSL: 'True',
                DATABASE_URL: k.secretRef('litellm-db', 'url'),
                LITELLM_MASTER_KEY: k.secretRef('litellm-keys', 'master-key'),
                // Must never change once models are stored in the database.
                LITELLM_SALT_KEY: k.secretRef('litellm-keys', 'salt-key'),
                REDIS_HOST: k.secretRef('litellm-redis', 'host'),
                REDIS_PASSWORD: k.secretRef('litellm-redis', 'password'),
              }),
              ports: [{ name: 'http', containerPort: 4000, protocol: 'TCP' }],
              livenessProbe: { httpGet: { path: '/health/liveliness', port: 'http' }, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 5 },
              readinessProbe: { httpGet: { path: '/health/readiness', port: 'http' }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
              startupProbe: { httpGet: { path: '/health/readiness', port: 'http' }, periodSeconds: 10, failureThreshold: 30 },
              resources: k.resources(s.resources),
              securityContext: k.containerSecurity,
              volumeMounts: [
                { name: 'config', mountPath: '/app/config.yaml', subPath: 'config.yaml', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            }],
            volumes: [
              { name: 'config', configMap: { name: 'litellm-config' } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    },
    // The generator needs no Kubernetes API access: its only Kubernetes
    // input is the master key, read from a Secret through env.
    iam.serviceAccount(config, rotateRole, ks.rotateRoleARN),
    k.cronJob(ns, 'rotate-key', ks, ks.rotateSchedule, rotateScript, {
      LITELLM_URL: 'http://litellm.litellm.svc.cluster.local:4000',
      LITELLM_MASTER_KEY: k.secretRef('litellm-keys', 'master-key'),
      KEY_LIFETIME: ks.keyLifetime,
      AWS_SECRETS_MANAGER_ID: ks.secretID,
      AWS_SECRET_REGION: config.region.awsRegion,
      K8S_NAMESPACE: ns,
    }),
  ],
}
