// One Flux Kustomization per component, applied from the cluster's Flux root
// (./regions/<region>/flux). dependsOn orders them: add-ons -> namespaces ->
// coder or coder-proxy -> provisioners, litellm -> key sync; each waits for
// its objects to be ready and prunes what left git.
//
// components maps each component to its objects. dependsOn is also derived
// from them: a component rendering CustomResourceDefinitions (a chart's
// CRDs) is a dependency of every component rendering a kind those CRDs
// define, so Flux applies the CRDs before the custom resources.
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
  local names = std.objectFields(components),
  local present = std.set(names),

  // "<group>/<Kind>" -> the component rendering its CRD.
  // (The first one when two components render it: the render refuses
  // that object rendered twice, with a clearer message.)
  local crdOwner = std.foldl(
    function(acc, p) if std.objectHas(acc, p[0]) then acc else acc { [p[0]]: p[1] },
    [
      [o.spec.group + '/' + o.spec.names.kind, c]
      for c in names
      for o in components[c]
      if o.apiVersion == 'apiextensions.k8s.io/v1' && o.kind == 'CustomResourceDefinition'
    ],
    {}
  ),
  local groupKind(o) =
    local parts = std.split(o.apiVersion, '/');
    (if std.length(parts) == 2 then parts[0] else '') + '/' + o.kind,
  local crdDeps(c) = std.set([
    crdOwner[groupKind(o)]
    for o in components[c]
    if std.objectHas(crdOwner, groupKind(o)) && crdOwner[groupKind(o)] != c
  ]),

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
        local fixed = [d for d in std.get(order, c, ['namespaces']) if std.member(present, d)],
        dependsOn: [{ name: d } for d in fixed + [d for d in crdDeps(c) if !std.member(fixed, d)]],
      },
    }
    for c in names
  ],
}
