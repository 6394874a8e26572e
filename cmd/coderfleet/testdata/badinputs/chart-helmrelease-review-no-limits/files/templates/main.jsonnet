// A deliberately broken entry point (bad-input corpus): a chart delivered by a HelmRelease.
local helm = import 'lib/helm.libsonnet';
function(config) {
  local app = helm.release('app', 'app', {}, { namespace: 'apps', kubeVersion: config.settings.kubernetes.version }),
  components: { app: app.objects },
  review: app.review,
}
