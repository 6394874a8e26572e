// A deliberately broken entry point (bad-input corpus).
function(config)
  local depth(n) = if n == 0 then 0 else 1 + depth(n - 1);
  { components: { namespaces: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns-' + depth(200) } }] } }
