// A deliberately broken entry point (bad-input corpus).
local passwd = importstr '../../etc/passwd';
function(config) { components: { namespaces: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'coder' } } + { data: passwd }] } }
