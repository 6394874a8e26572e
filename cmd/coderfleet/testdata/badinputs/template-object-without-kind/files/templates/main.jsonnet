// A deliberately broken entry point (bad-input corpus).
function(config) {
  components: { namespaces: [{ apiVersion: 'v1', metadata: { name: 'coder' } }] },
}
