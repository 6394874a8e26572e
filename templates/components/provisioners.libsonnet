// External Coder provisioners, one per workspace namespace (domain-spec A3).
// Each authenticates with a provisioner key (Secret psk, key token.key):
// the key this component lists in `provisionerKeys`, named
// <region>-<namespace> with the tags region=<aws region> and
// namespace=<namespace>, which `coderfleet sync apply` creates and stores
// in Secrets Manager for the ExternalSecret psk (secrets.mode
// externalsecrets). Its ServiceAccount `coder` creates the workspaces'
// pods, PVCs and deployments in the namespace and carries the namespace's
// IRSA role.
local iam = import '../lib/iam.libsonnet';
local k = import '../lib/k.libsonnet';
local secrets = import '../lib/secrets.libsonnet';

function(config) {
  local coder = config.settings.coder,
  local p = config.settings.provisioner,
  // The provisioner's ServiceAccount in each workspace namespace.
  local account = 'coder',

  // The provisioner's role: what the workspaces' Terraform may do in AWS,
  // as workspaceNamespaces[].iam grants it (nothing by default). The role
  // exists even without permissions, so the AWS SDKs in the provisioner
  // take its web identity and never fall back to the node's role.
  local role(ws) =
    local w = ws.iam;
    iam.role(config,
             'provisioner-' + ws.name,
             ws.name,
             account,
             'Coder provisioner (' + ws.name + '/' + account + '): what workspace templates of organization ' + ws.organization + ' may do in AWS',
             if std.length(w.statements) == 0 then [] else [iam.policy('workspace', [
               iam.allow(st.actions, st.resources, if std.length(st.condition) == 0 then null else st.condition)
               + (if st.sid == '' then {} else { Sid: st.sid })
               for st in w.statements
             ])],
             w.managedPolicies),

  // The key of workspace namespace ws, and the secret sync stores it in.
  local key(ws) = {
    name: config.region.name + '-' + ws.name,
    organization: ws.organization,
    tags: { region: config.region.awsRegion, namespace: ws.name },
    tokenSecret: secrets.tokenSecret(config, ws.name, 'psk', 'token.key', 'Coder provisioner key ' + config.region.name + '-' + ws.name + ' of organization ' + ws.organization),
  },
  local read(ws) = secrets.read(ws.name, 'psk', key(ws).tokenSecret, { 'token.key': null }, config.settings.secrets.refreshInterval),

  local perNamespace(ws) =
    local ns = ws.name;
    local selector = { 'app.kubernetes.io/name': 'coder-provisioner', 'app.kubernetes.io/instance': ns };
    local labels = k.labels('coder-provisioner', 'provisioner') + selector;
    (if secrets.external(config) then [secrets.externalSecret(read(ws))] else []) + [
      iam.serviceAccount(config, role(ws), ws.roleARN),
      // Workspaces run as this ServiceAccount; it has no API permissions.
      k.serviceAccount(ns, ns) { automountServiceAccountToken: false },
      k.role(ns, 'coder-workspace-perms', [
        { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
        { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
      ]),
      k.roleBinding(ns, account, 'coder-workspace-perms', account),
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name: 'coder-provisioner',
          namespace: ns,
          labels: labels,
          annotations: {
            'coderfleet.io/organization': ws.organization,
            'coderfleet.io/provisioner-key': key(ws).name,
            // Region first: a namespace holding "key" followed by
            // ",name=value" reads like a credential to the secret guard.
            'coderfleet.io/provisioner-tags': 'region=' + key(ws).tags.region + ',namespace=' + key(ws).tags.namespace,
          },
        },
        spec: {
          replicas: ws.replicas,
          selector: { matchLabels: selector },
          template: {
            metadata: { labels: labels },
            spec: k.dedicated('coder-provisioner') {
              serviceAccountName: account,
              securityContext: k.podSecurity(1000),
              // A provisioner finishes its running build before it stops.
              terminationGracePeriodSeconds: 600,
              containers: [{
                name: 'coder',
                image: k.image(coder.image),
                imagePullPolicy: 'IfNotPresent',
                command: ['/opt/coder'],
                args: ['provisionerd', 'start'],
                // No CODER_PROVISIONERD_TAGS: a daemon authenticating with a
                // key takes the key's tags, and coderd refuses tags sent
                // beside a key.
                env: k.env({
                  CODER_URL: 'https://' + config.fleet.domain,
                  CODER_PROVISIONER_DAEMON_KEY: k.secretRef('psk', 'token.key'),
                  CODER_PROMETHEUS_ENABLE: 'true',
                  CODER_PROMETHEUS_ADDRESS: '0.0.0.0:2112',
                }),
                ports: [{ name: 'prometheus-http', containerPort: 2112, protocol: 'TCP' }],
                // provisionerd serves no health endpoint; its metrics listener
                // is up exactly while the daemon runs.
                readinessProbe: { tcpSocket: { port: 'prometheus-http' }, periodSeconds: 10 },
                livenessProbe: { tcpSocket: { port: 'prometheus-http' }, initialDelaySeconds: 30, periodSeconds: 20, failureThreshold: 5 },
                resources: k.resources(p.resources),
                securityContext: k.containerSecurity,
              }],
            },
          },
        },
      },
    ],

  // Flux dependsOn (components/flux.libsonnet): the workspace namespaces,
  // the stores the ExternalSecrets read through and the region's Coder
  // server (coderd or the proxy) first.
  dependsOn: ['namespaces', 'secretstores', if config.region.role == 'primary' then 'coder' else 'coder-proxy'],
  // The ServiceAccounts this component makes in every workspace namespace
  // besides the workspaces' own (named after the namespace), in any mode:
  // main.jsonnet's `owned` refuses them as workspace namespace names.
  workspaceServiceAccounts: [account],
  provisionerKeys: [key(ws) for ws in config.settings.workspaceNamespaces],
  secretReads: if secrets.external(config) then [read(ws) for ws in config.settings.workspaceNamespaces] else [],
  roles: iam.roles(config, [role(ws) for ws in config.settings.workspaceNamespaces]),
  objects: std.flattenArrays([perNamespace(ws) for ws in config.settings.workspaceNamespaces]),
}
