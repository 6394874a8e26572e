// A deliberately broken entry point (bad-input corpus).
function(config)
  local work(n) = if n == 0 then 1 else work(n - 1) + work(n - 1);
  { components: { namespaces: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns-' + work(60) } }] } }
