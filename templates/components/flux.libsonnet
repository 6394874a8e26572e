// One Flux Kustomization per component, applied from the cluster's Flux root
// (./regions/<region>/flux). dependsOn orders them: add-ons -> namespaces ->
// coder or coder-proxy -> provisioners, litellm -> key sync; each waits for
// its objects to be ready and prunes what left git.
function(config, components) {
  local f = config.settings.flux,
  local primary = config.region.role == 'primary',
  local server = if primary then 'coder' else 'coder-proxy',
  local order = {
    addons: [],
    namespaces: ['addons'],
    coder: ['namespaces'],
    'coder-proxy': ['namespaces'],
    provisioners: ['namespaces', server],
    litellm: ['coder'],
    keysync: if primary then ['litellm'] else ['namespaces'],
  },
  local present = std.set(components),

  objects: [
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: c, namespace: f.sourceNamespace },
      spec: {
        interval: f.interval,
        timeout: f.timeout,
        retryInterval: '1m',
        path: './regions/%s/%s' % [config.region.name, c],
        prune: true,
        wait: true,
        sourceRef: { kind: 'GitRepository', name: f.sourceName },
        dependsOn: [{ name: d } for d in std.get(order, c, ['namespaces']) if std.member(present, d)],
      },
    }
    for c in components
  ],
}
