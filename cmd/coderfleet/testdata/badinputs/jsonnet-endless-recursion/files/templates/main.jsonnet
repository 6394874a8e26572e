// A deliberately broken entry point (bad-input corpus).
function(config)
  local depth(n) = 1 + depth(n + 1);
  { components: { namespaces: [depth(0)] } }
