// A deliberately broken entry point (bad-input corpus).
function(config) {
  components: { namespaces: [{
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', namespace: 'coder' },
    spec: { replica: 2, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [] } } },
  }] },
}
