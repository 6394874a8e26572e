// A deliberately broken entry point (bad-input corpus).
local fleet = importstr '../overlays/fleet.yaml';
function(config) { components: { namespaces: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'coder' } } + { data: fleet }] } }
