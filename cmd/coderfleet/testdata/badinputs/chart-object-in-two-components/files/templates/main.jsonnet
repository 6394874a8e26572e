// A deliberately broken entry point (bad-input corpus): the metrics-server
// chart delivered by a HelmRelease of its own, beside the add-on of that name.
local addons = import 'components/addons.libsonnet';
local helm = import 'lib/helm.libsonnet';
function(config) {
  local chart = { name: 'metrics-server', version: '3.13.0', repository: 'https://kubernetes-sigs.github.io/metrics-server/', oci: false },
  components: {
    addons: addons(config).objects,
    'metrics-server': helm.fluxObjects('metrics-server', chart, {}, { namespace: 'kube-system' }),
  },
}
