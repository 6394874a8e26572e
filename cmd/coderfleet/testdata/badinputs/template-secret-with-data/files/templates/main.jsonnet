// A deliberately broken entry point (bad-input corpus).
function(config) {
  components: { namespaces: [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'coder' }, data: { url: 'cG9zdGdyZXM6Ly91OnBAaG9zdC9kYg==' } },
  ] },
}
