// Helpers around std.native('helmTemplate'), which renders a chart vendored
// under templates/charts/ (see docs/charts.md) in-process with Helm's engine.
// Self-contained: no imports.
//
//   local helm = import 'lib/helm.libsonnet';
//   local cm = helm.release('cert-manager', 'cert-manager', { crds: { enabled: false } }, {
//     namespace: 'cert-manager',
//     kubeVersion: config.settings.kubernetes.version,
//     apiVersions: config.settings.kubernetes.apiVersions,
//   });
//   {
//     components: { 'cert-manager-crds': cm.crds, 'cert-manager': cm.objects },
//     review: cm.review,
//   }
//
// release() honours the chart's `delivery` in templates/charts/charts.yaml:
//   render       objects = the rendered manifests, crds = the chart's CRDs,
//                review = {} (the manifests themselves are reviewed).
//   helmrelease  objects = a Flux source (HelmRepository, or OCIRepository for
//                oci://) + a HelmRelease pinned to the vendored version, with
//                the values inline; crds = [] (the HelmRelease installs them);
//                review = { '<release>.yaml': the locally rendered CRDs and
//                manifests }, a file no Flux Kustomization applies.
local nativeKeys = ['namespace', 'kubeVersion', 'apiVersions', 'includeCRDs', 'hooks', 'clusterScopedKinds'];
local fluxKeys = ['fluxNamespace', 'interval', 'retries', 'reviewFile', 'valuesFrom', 'timeout'];

local pick(opts, keys) = { [k]: opts[k] for k in std.objectFields(opts) if std.member(keys, k) };

local checkOpts(fn, opts) =
  local unknown = [k for k in std.objectFields(opts) if !std.member(nativeKeys + fluxKeys, k)];
  if std.length(unknown) > 0 then
    error 'helm.%s: unknown option(s) %s (known: %s)' % [fn, std.join(', ', unknown), std.join(', ', nativeKeys + fluxKeys)]
  else opts;

{
  // The Helm media type of a chart layer in an OCI artifact.
  chartLayerMediaType:: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',

  // template renders a vendored chart and returns
  // { chart: {name, version, repository, delivery, oci, archiveDigest,
  //   manifestDigest}, resources: [...], crds: [...] }, whatever the
  // chart's delivery. opts: namespace and kubeVersion (required),
  // apiVersions, includeCRDs (default true), hooks ('include' | 'exclude'),
  // clusterScopedKinds. Identical calls are rendered once per process.
  template(name, chart, values={}, opts={})::
    std.native('helmTemplate')(name, chart, values, pick(checkOpts('template', opts), nativeKeys)),

  // release delivers a vendored chart as its charts.yaml entry says; see the
  // header. Extra opts for helmrelease delivery: fluxNamespace (where the
  // source and HelmRelease live, default 'flux-system'), interval (default
  // '10m'), timeout (default '5m'), retries (remediation retries, default 3),
  // valuesFrom (HelmRelease valuesFrom, for values kept in Secrets), and
  // reviewFile (default '<name>.yaml').
  release(name, chart, values={}, opts={})::
    local o = checkOpts('release', opts);
    local r = self.template(name, chart, values, o);
    if r.chart.delivery == 'render' then
      { chart: r.chart, objects: r.resources, crds: r.crds, review: {} }
    else
      local reviewFile = std.get(o, 'reviewFile', name + '.yaml');
      {
        chart: r.chart,
        objects: $.fluxObjects(name, r.chart, values, o),
        crds: [],
        review: { [reviewFile]: r.crds + r.resources },
      },

  // fluxSource is the Flux source object for a chart: a HelmRepository for
  // an https:// chart repository, an OCIRepository (pinned to the tag and,
  // when the lock records it, the manifest digest) for an oci:// registry.
  fluxSource(chartInfo, opts={})::
    local ns = std.get(opts, 'fluxNamespace', 'flux-system');
    local interval = std.get(opts, 'interval', '10m');
    if chartInfo.oci then {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'OCIRepository',
      metadata: { name: chartInfo.name, namespace: ns },
      spec: {
        interval: interval,
        url: chartInfo.repository + '/' + chartInfo.name,
        ref: { tag: std.strReplace(chartInfo.version, '+', '_') }
             + (if std.get(chartInfo, 'manifestDigest', '') != '' then { digest: chartInfo.manifestDigest } else {}),
        layerSelector: { mediaType: $.chartLayerMediaType, operation: 'copy' },
      },
    } else {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'HelmRepository',
      metadata: { name: chartInfo.name, namespace: ns },
      spec: { interval: interval, url: chartInfo.repository },
    },

  // fluxRelease is the HelmRelease installing chartInfo as release `name`
  // into opts.namespace, pinned to the vendored version, with install and
  // upgrade remediation.
  fluxRelease(name, chartInfo, values, opts)::
    local ns = std.get(opts, 'fluxNamespace', 'flux-system');
    local interval = std.get(opts, 'interval', '10m');
    local retries = std.get(opts, 'retries', 3);
    local crds = std.get(opts, 'includeCRDs', true);
    local source = $.fluxSource(chartInfo, opts);
    local sourceRef = { kind: source.kind, name: source.metadata.name, namespace: ns };
    local common = {
      interval: interval,
      timeout: std.get(opts, 'timeout', '5m'),
      releaseName: name,
      targetNamespace: opts.namespace,
      storageNamespace: opts.namespace,
      install: {
        createNamespace: true,
        crds: if crds then 'Create' else 'Skip',
        remediation: { retries: retries },
      },
      upgrade: {
        crds: if crds then 'CreateReplace' else 'Skip',
        remediation: { retries: retries, remediateLastFailure: true },
      },
    };
    local chartSpec =
      if chartInfo.oci then { chartRef: sourceRef }
      else { chart: { spec: { chart: chartInfo.name, version: chartInfo.version, interval: interval, sourceRef: sourceRef } } };
    local valueSpec =
      (if values != null && std.length(values) > 0 then { values: values } else {})
      + (if std.objectHas(opts, 'valuesFrom') then { valuesFrom: opts.valuesFrom } else {});
    {
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      metadata: { name: name, namespace: ns },
      spec: common + chartSpec + valueSpec,
    },

  // fluxObjects is [source, HelmRelease] for a helmrelease delivery.
  fluxObjects(name, chartInfo, values, opts)::
    [$.fluxSource(chartInfo, opts), $.fluxRelease(name, chartInfo, values, opts)],
}
