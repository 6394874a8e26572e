// A deliberately broken entry point (bad-input corpus).
local nope = import 'lib/nope.libsonnet';
function(config) { components: { namespaces: [nope.ns] } }
