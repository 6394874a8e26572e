// A deliberately broken entry point (bad-input corpus).
function(config) {
  local cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'twice', namespace: 'coder' }, data: { a: 'b' } },
  components: { namespaces: [cm, cm] },
}
