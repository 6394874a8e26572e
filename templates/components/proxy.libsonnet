// A Coder workspace proxy, in every region but the primary (domain-spec A2).
// It serves <region>.<domain> and *.<region>.<domain> and authenticates to
// coderd with the token in Secret coder-proxy (key proxy.key), made when
// the proxy is registered: `coderfleet sync apply` registers the proxy this
// component lists in `workspaceProxies` and stores its token in Secrets
// Manager, which the ExternalSecret coder-proxy reads (secrets.mode
// externalsecrets; in manual mode the team copies it into the Secret).
local aws = import '../lib/aws.libsonnet';
local k = import '../lib/k.libsonnet';
local secrets = import '../lib/secrets.libsonnet';

function(config) {
  local coder = config.settings.coder,
  local s = config.settings.proxy,
  local domain = config.fleet.domain,
  local regionDomain = config.region.name + '.' + domain,
  local ns = 'coder-proxy',
  local selector = { 'app.kubernetes.io/name': 'coder-proxy', 'app.kubernetes.io/instance': 'coder-proxy' },
  local labels = k.labels('coder-proxy', 'workspace-proxy') + selector,
  local cert = aws.certificate(config, 'proxy', regionDomain, ['*.' + regionDomain]),
  local certArn = if s.certificateARN != '' then s.certificateARN else aws.certificateARN(config, cert.name),
  local service = k.nlbService(ns, 'coder-proxy', selector, s.loadBalancer, certArn, labels),

  local env = {
    CODER_HTTP_ADDRESS: '0.0.0.0:8080',
    CODER_PRIMARY_ACCESS_URL: 'https://' + domain,
    CODER_ACCESS_URL: 'https://' + regionDomain,
    CODER_WILDCARD_ACCESS_URL: '*.' + regionDomain,
    CODER_REDIRECT_TO_ACCESS_URL: 'false',
    CODER_TLS_ENABLE: 'false',
    CODER_SECURE_AUTH_COOKIE: 'true',
    CODER_PROXY_SESSION_TOKEN: k.secretRef('coder-proxy', 'proxy.key'),
    KUBE_POD_IP: { field: 'status.podIP' },
    CODER_DERP_SERVER_RELAY_URL: 'http://$(KUBE_POD_IP):8080',
  } + (if coder.prometheus then {
         CODER_PROMETHEUS_ENABLE: 'true',
         CODER_PROMETHEUS_ADDRESS: '0.0.0.0:2112',
       } else {}),

  namespace: ns,

  // The proxy sync registers on coderd (domain-spec E), named after the
  // region, and the secret that receives its token.
  local token = secrets.tokenSecret(config, ns, 'coder-proxy', 'proxy.key', 'Coder workspace proxy ' + config.region.name),
  workspaceProxies: [{
    name: config.region.name,
    displayName: config.region.displayName,
    icon: config.region.icon,
    tokenSecret: token,
  }],
  local reads = if secrets.external(config) then [
    secrets.read(ns, 'coder-proxy', token, { 'proxy.key': null }, config.settings.secrets.refreshInterval),
  ] else [],
  secretReads: reads,

  // The region's own names, served by the proxy; the health check shows
  // the proxy's state in Route53.
  aws: {
    certificates: [cert],
    healthChecks: [aws.healthCheck(config, 'proxy', regionDomain)],
    records: [aws.record(config, n, service) for n in [regionDomain, '*.' + regionDomain]],
  },

  // Flux dependsOn (components/flux.libsonnet): the proxy's namespace and
  // the store its ExternalSecret reads through first.
  dependsOn: ['namespaces', 'secretstores'],
  objects: [secrets.externalSecret(r) for r in reads] + [
    k.serviceAccount(ns, 'coder-proxy'),
    service,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'coder-proxy',
        namespace: ns,
        labels: labels,
        annotations: {
          'coderfleet.io/proxy-name': config.region.name,
          'coderfleet.io/proxy-display-name': config.region.displayName,
          'coderfleet.io/proxy-icon': config.region.icon,
        },
      },
      spec: {
        replicas: s.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: labels },
          spec: k.dedicated('coder-proxy') {
            serviceAccountName: 'coder-proxy',
            automountServiceAccountToken: false,
            securityContext: k.podSecurity(1000),
            terminationGracePeriodSeconds: 60,
            topologySpreadConstraints: k.spreadOverHosts(selector),
            containers: [{
              name: 'coder-proxy',
              image: k.image(coder.image),
              imagePullPolicy: 'IfNotPresent',
              command: ['/opt/coder'],
              args: ['wsproxy', 'server'],
              env: k.env(env),
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]
                     + (if coder.prometheus then [{ name: 'prometheus-http', containerPort: 2112, protocol: 'TCP' }] else []),
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
