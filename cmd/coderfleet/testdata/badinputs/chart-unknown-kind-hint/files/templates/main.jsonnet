// A deliberately broken entry point (bad-input corpus).
function(config) {
  components: {
    monitoring: [{
      apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor',
      metadata: { name: 'coder', namespace: 'coder' },
      spec: { endpoints: [{ port: 'prometheus' }], selector: { matchLabels: { app: 'coder' } } },
    }],
  },
}
