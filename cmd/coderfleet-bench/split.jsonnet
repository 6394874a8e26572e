// The CLI pipeline's entry point: evaluates the fleet's main.jsonnet (found
// with -J templates) for one region and splits its result into one YAML
// file per object plus a kustomization.yaml listing them, for
// `jsonnet -m <dir>/ -S`.
local main = import 'main.jsonnet';

function(config)
  local out = main(config);
  local name(c, o) =
    c + '_' + std.asciiLower(o.kind) + '-' + std.get(o.metadata, 'namespace', 'cluster') + '-' + o.metadata.name + '.yaml';
  local files = {
    [name(c, o)]: std.manifestYamlDoc(o, quote_keys=false)
    for c in std.objectFields(out.components)
    for o in out.components[c]
  };
  files { 'kustomization.yaml': std.manifestYamlDoc({ resources: std.objectFields(files) }, quote_keys=false) }
