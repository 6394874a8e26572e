// Cluster add-ons (domain-spec A6) as Flux objects: a HelmRepository
// (https:// charts) or OCIRepository (oci:// charts) and a HelmRelease per
// add-on, with pinned versions and install/upgrade remediation, the GitOps
// form of `helm upgrade --install`. Values coderfleet knows (cluster name,
// region, IRSA roles) are set here; the add-on's `values` merge over them.
local k = import '../lib/k.libsonnet';

function(config) {
  local ns = config.settings.flux.sourceNamespace,
  local interval = config.settings.flux.interval,
  local cluster = config.region.clusterName,

  local irsa(a) = if a.roleARN != '' then { serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': a.roleARN } } } else {},

  // What coderfleet sets for the add-ons it knows.
  local known(name, a) = {
    'aws-load-balancer-controller': {
      clusterName: cluster,
      region: config.region.awsRegion,
    } + (if config.region.vpcID != '' then { vpcId: config.region.vpcID } else {}) + irsa(a),
    'cert-manager': { crds: { enabled: true } },
    // Serves ExternalSecret/SecretStore for keySync.mode externalsecrets.
    'external-secrets': { installCRDs: true },
    karpenter: { settings: { clusterName: cluster } } + irsa(a),
    'metrics-server': {},
    'aws-ebs-csi-driver': { controller: irsa(a) },
  },
  local baseValues(name, a) = std.get(known(name, a), name, irsa(a)),

  local isOCI(a) = std.startsWith(a.repository, 'oci://'),

  local source(name, a) =
    if isOCI(a) then {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'OCIRepository',
      metadata: { name: name, namespace: ns },
      spec: {
        interval: interval,
        url: a.repository + '/' + a.chart,
        ref: { tag: a.version },
        layerSelector: { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', operation: 'copy' },
      },
    } else {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'HelmRepository',
      metadata: { name: name, namespace: ns },
      spec: { interval: interval, url: a.repository },
    },

  local release(name, a) = {
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: name, namespace: ns },
    spec: {
      interval: interval,
      releaseName: name,
      targetNamespace: a.namespace,
      install: { createNamespace: true, remediation: { retries: 3 } },
      upgrade: { cleanupOnFail: true, remediation: { retries: 3, remediateLastFailure: true } },
      values: std.mergePatch(baseValues(name, a), a.values),
    } + (
      if isOCI(a) then { chartRef: { kind: 'OCIRepository', name: name } }
      else { chart: { spec: { chart: a.chart, version: a.version, sourceRef: { kind: 'HelmRepository', name: name }, interval: interval } } }
    ),
  },

  local addons = config.settings.addons,

  // leaves lists the dotted paths of the values an object sets.
  local leaves(o, prefix='') = std.flattenArrays([
    if std.type(o[f]) == 'object' && std.length(o[f]) > 0 then leaves(o[f], prefix + f + '.') else [prefix + f]
    for f in std.objectFields(o)
  ]),
  // The chart values coderfleet sets for each enabled add-on, by dotted
  // path: an add-on's `values` may add values but never replace these.
  pinnedValues: {
    [name]: {
      [path]: if std.endsWith(path, 'eks.amazonaws.com/role-arn') then 'set from addons.%s.roleARN' % name
      else 'set by templates/components/addons.libsonnet'
      for path in leaves(baseValues(name, addons[name]))
    }
    for name in std.objectFields(addons)
    if addons[name].enabled
  },
  // The namespace of every enabled add-on -> the add-ons installed there.
  namespaces: {
    [a]: [name for name in std.objectFields(addons) if addons[name].enabled && addons[name].namespace == a]
    for a in std.set([addons[n].namespace for n in std.objectFields(addons) if addons[n].enabled])
  },
  // Flux dependsOn (components/flux.libsonnet): add-ons come first.
  dependsOn: [],
  objects: std.flattenArrays([
    [source(name, addons[name]), release(name, addons[name])]
    for name in std.objectFields(addons)
    if addons[name].enabled
  ]),
}
