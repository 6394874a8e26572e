// A deliberately broken entry point (bad-input corpus): a chart delivered by a HelmRelease.
local helm = import 'lib/helm.libsonnet';
function(config) {
  local mon = helm.release('mon', 'mon', {}, { namespace: 'monitoring', kubeVersion: config.settings.kubernetes.version }),
  components: { mon: mon.objects },
  review: mon.review,
}
