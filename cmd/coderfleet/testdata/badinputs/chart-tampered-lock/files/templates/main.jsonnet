// A deliberately broken entry point (bad-input corpus): a vendored chart edited after vendoring.
local helm = import 'lib/helm.libsonnet';
function(config) {
  local demo = helm.release('web', 'demo', {}, { namespace: 'apps', kubeVersion: config.settings.kubernetes.version }),
  components: { demo: demo.objects },
}
