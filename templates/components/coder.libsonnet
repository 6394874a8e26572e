// coderd, the Coder control plane, in the primary region (domain-spec A1).
// Database, OIDC and OAuth settings come only from Secrets; this template
// references them by name and key. With secrets.mode externalsecrets each
// is an ExternalSecret of a Secrets Manager secret the user fills (listed
// in secrets.yaml); in manual mode the team creates them.
local aws = import '../lib/aws.libsonnet';
local k = import '../lib/k.libsonnet';
local secrets = import '../lib/secrets.libsonnet';

function(config) {
  local s = config.settings.coder,
  local domain = config.fleet.domain,
  local ns = 'coder',
  local selector = { 'app.kubernetes.io/name': 'coder', 'app.kubernetes.io/instance': 'coder' },
  local labels = k.labels('coder', 'coderd') + selector,
  local regionDomain = aws.regionDomain(config),
  // Its certificate covers the fleet's names and the region's own.
  local cert = aws.certificate(config, 'coder', domain, ['*.' + domain, regionDomain, '*.' + regionDomain]),
  local certArn = if s.certificateARN != '' then s.certificateARN else aws.certificateARN(config, cert.name),
  local service = k.nlbService(ns, 'coder', selector, s.loadBalancer, certArn, labels),
  local health = aws.healthCheck(config, 'coder', regionDomain),

  // The variables of every coderd, then those of each enabled feature.
  local always = {
    CODER_HTTP_ADDRESS: '0.0.0.0:8080',
    CODER_PROMETHEUS_ADDRESS: '0.0.0.0:2112',
    CODER_ACCESS_URL: 'https://' + domain,
    CODER_WILDCARD_ACCESS_URL: '*.' + domain,
    CODER_REDIRECT_TO_ACCESS_URL: 'false',
    CODER_TLS_ENABLE: 'false',
    CODER_SECURE_AUTH_COOKIE: 'true',
    CODER_PROVISIONER_DAEMONS: '0',
    CODER_PG_AUTH: 'password',
    CODER_PG_CONNECTION_URL: k.secretRef('postgres', 'url'),
    KUBE_POD_IP: { field: 'status.podIP' },
    CODER_DERP_SERVER_RELAY_URL: 'http://$(KUBE_POD_IP):8080',
  },
  local prometheus = if s.prometheus then {
    CODER_PROMETHEUS_ENABLE: 'true',
    CODER_PROMETHEUS_COLLECT_AGENT_STATS: 'true',
    CODER_PROMETHEUS_COLLECT_DB_METRICS: 'true',
  } else {},
  local oidcEmailDomains =
    if std.length(s.oidc.emailDomains) > 0 then { CODER_OIDC_EMAIL_DOMAIN: std.join(',', s.oidc.emailDomains) } else {},
  local oidc = if s.oidc.enabled then {
    CODER_OIDC_ISSUER_URL: k.secretRef('oidc', 'issuer-url'),
    CODER_OIDC_CLIENT_ID: k.secretRef('oidc', 'client-id'),
    CODER_OIDC_CLIENT_SECRET: k.secretRef('oidc', 'client-secret'),
    CODER_OIDC_SIGN_IN_TEXT: s.oidc.signInText,
  } + oidcEmailDomains else {},
  local githubOAuth = if s.githubOAuth.enabled then {
    CODER_OAUTH2_GITHUB_CLIENT_ID: k.secretRef('oauth', 'client-id'),
    CODER_OAUTH2_GITHUB_CLIENT_SECRET: k.secretRef('oauth', 'client-secret'),
    CODER_OAUTH2_GITHUB_ALLOW_SIGNUPS: 'true',
  } else {},
  local githubExternalAuth = if s.githubExternalAuth.enabled then {
    CODER_EXTERNAL_AUTH_0_ID: 'primary-github',
    CODER_EXTERNAL_AUTH_0_TYPE: 'github',
    CODER_EXTERNAL_AUTH_0_CLIENT_ID: k.secretRef('github-external-auth', 'client-id'),
    CODER_EXTERNAL_AUTH_0_CLIENT_SECRET: k.secretRef('github-external-auth', 'client-secret'),
  } else {},
  // Every variable coderfleet sets itself; coder.env may add variables but
  // never replace one of these (main.jsonnet reports them as owned).
  local pinned = always + prometheus + oidc + githubOAuth + githubExternalAuth,
  local env = pinned + s.env,

  namespace: ns,
  // What coder.env may not replace, by name, with the reason where there is
  // more to say than that this template sets it.
  local reasons = {
    CODER_TLS_ENABLE: 'pinned to false: the NLB terminates TLS and forwards plain HTTP to port 8080, so coderd must not serve TLS itself (Coder docs, CODER_TLS_ENABLE)',
    CODER_REDIRECT_TO_ACCESS_URL: 'pinned to false: behind a TLS-terminating load balancer the redirect to the https access URL loops (Coder docs, CODER_REDIRECT_TO_ACCESS_URL)',
    CODER_HTTP_ADDRESS: 'pinned to 0.0.0.0:8080: the container port `http` and the Service behind the NLB expect coderd there',
    CODER_PG_CONNECTION_URL: 'read from Secret postgres key url: a literal value would put the database password in git',
  },
  // The Secrets coderd reads, each only while its feature is on: name,
  // keys and who uses it.
  local secretSpecs = [
    { name: 'postgres', keys: ['url'], usedBy: 'coderd: CODER_PG_CONNECTION_URL, the password URL-encoded' },
  ] + (if s.oidc.enabled then [
         { name: 'oidc', keys: ['issuer-url', 'client-id', 'client-secret'], usedBy: 'coderd: OIDC sign-in' },
       ] else []) + (if s.githubOAuth.enabled then [
                       { name: 'oauth', keys: ['client-id', 'client-secret'], usedBy: 'coderd: GitHub sign-in' },
                     ] else []) + (if s.githubExternalAuth.enabled then [
                                     { name: 'github-external-auth', keys: ['client-id', 'client-secret'], usedBy: 'coderd: GitHub external auth' },
                                   ] else []),
  local user = secrets.userSecrets(config, ns, secretSpecs),
  local reads = user.reads,
  secrets: user.secrets,
  secretReads: reads,

  pinnedEnv: { [name]: std.get(reasons, name, 'set by templates/components/coder.libsonnet') for name in std.objectFields(pinned) },

  // The fleet's names answer from the nearest healthy region (latency
  // records, one per region); the region's own names from this region.
  aws: {
    certificates: [cert],
    healthChecks: [health],
    records: [aws.latencyRecord(config, n, service, health.name) for n in [domain, '*.' + domain]]
             + [aws.record(config, n, service) for n in [regionDomain, '*.' + regionDomain]],
  },

  // Flux dependsOn (components/flux.libsonnet): coderd's namespace and
  // the stores its ExternalSecrets read through first.
  dependsOn: ['namespaces', 'secretstores'],
  objects: [secrets.externalSecret(r) for r in reads] + [
    k.serviceAccount(ns, 'coder', s.serviceAccountRoleARN),
    k.role(ns, 'coder-workspace-perms', [
      { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
      { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
    ]),
    k.roleBinding(ns, 'coder', 'coder-workspace-perms', 'coder'),
    service,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coder', namespace: ns, labels: labels },
      spec: {
        replicas: s.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels: labels,
            annotations: if s.prometheus then { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '2112' } else {},
          },
          spec: k.dedicated('coder-server') {
            serviceAccountName: 'coder',
            securityContext: k.podSecurity(1000),
            terminationGracePeriodSeconds: 60,
            topologySpreadConstraints: k.spreadOverHosts(selector),
            containers: [{
              name: 'coder',
              image: k.image(s.image),
              imagePullPolicy: 'IfNotPresent',
              command: ['/opt/coder'],
              args: ['server'],
              env: k.env(env),
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]
                     + (if s.prometheus then [{ name: 'prometheus-http', containerPort: 2112, protocol: 'TCP' }] else []),
              readinessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' }, initialDelaySeconds: 5, periodSeconds: 10 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' }, initialDelaySeconds: 30, periodSeconds: 15, failureThreshold: 5 },
              resources: k.resources(s.resources),
              securityContext: k.containerSecurity,
            }],
          },
        },
      },
    },
  ],
}
