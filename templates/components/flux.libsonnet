// One Flux Kustomization per component, applied from the cluster's Flux root
// (./regions/<region>/flux); each waits for its objects to be ready and
// prunes what left git.
//
// components maps each component to {objects: [...], dependsOn: [...]}:
// every component declares, next to its objects, the components Flux must
// apply before it (add-ons -> namespaces -> coder or coder-proxy ->
// provisioners, litellm -> key sync). A name that is not a component of the
// region, or a missing dependsOn, is an error; a dependency with no objects
// in this region (no add-on enabled, say) is left out, as Flux has nothing
// to wait for. A component with no objects gets no Kustomization.
//
// dependsOn is also derived from the objects: a component rendering
// CustomResourceDefinitions (a chart's CRDs) is a dependency of every
// component rendering a kind those CRDs define, so Flux applies the CRDs
// before the custom resources.
function(config, components) {
  local f = config.settings.flux,
  local all = std.objectFields(components),
  local names = [c for c in all if std.length(components[c].objects) > 0],
  local present = std.set(names),
  local objectsOf(c) = components[c].objects,

  // The dependencies component c declares, each checked to be a component.
  local declared(c) =
    if !std.objectHas(components[c], 'dependsOn') then
      error 'component %s: key dependsOn is missing: declare the components Flux applies before it next to its objects (dependsOn: [] for none)' % c
    else [
      if std.objectHas(components, d) then d
      else error 'component %s: key dependsOn names %s, which is not a component of region %s (its components: %s); name one of them or remove it' % [c, std.manifestJsonEx(d, ''), config.region.name, std.join(', ', all)]
      for d in components[c].dependsOn
    ],

  local crdOwner = std.foldl(
    function(acc, p) if std.objectHas(acc, p[0]) then acc else acc { [p[0]]: p[1] },
    [
      [o.spec.group + '/' + o.spec.names.kind, c]
      for c in names
      for o in objectsOf(c)
      if o.apiVersion == 'apiextensions.k8s.io/v1' && o.kind == 'CustomResourceDefinition'
    ],
    {}
  ),
  local groupKind(o) =
    local parts = std.split(o.apiVersion, '/');
    (if std.length(parts) == 2 then parts[0] else '') + '/' + o.kind,
  // Without CRDs in the region there is nothing to look up (std.split is
  // written in Jsonnet: skipping it for every object is measurable).
  local crdDeps(c) = if std.length(crdOwner) == 0 then [] else std.set([
    crdOwner[gk]
    for o in objectsOf(c)
    for gk in [groupKind(o)]
    if std.objectHas(crdOwner, gk) && crdOwner[gk] != c
  ]),

  // Every declaration is checked, a component's without objects included.
  assert std.all([std.isArray(declared(c)) for c in all]),

  objects: [
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: c, namespace: f.sourceNamespace },
      spec: {
        interval: f.interval,
        timeout: f.timeout,
        retryInterval: '1m',
        path: './regions/' + config.region.name + '/' + c,
        prune: true,
        wait: true,
        sourceRef: { kind: 'GitRepository', name: f.sourceName },
        local fixed = [d for d in declared(c) if std.member(present, d)],
        dependsOn: [{ name: d } for d in fixed + [d for d in crdDeps(c) if !std.member(fixed, d)]],
      },
    }
    for c in names
  ],
}
