// The entry point: coderfleet evaluates this file once per region with the
// region's configuration as `config` (see README, "Template input") and
// writes each component to regions/<region>/<component>/.
local coder = import 'components/coder.libsonnet';
local proxy = import 'components/proxy.libsonnet';
local k = import 'lib/k.libsonnet';

function(config)
  local primary = config.region.role == 'primary';
  local workspaceNamespaces = [ns.name for ns in config.settings.workspaceNamespaces];
  local platformNamespaces =
    (if primary then ['coder'] + (if config.settings.litellm.enabled then ['litellm'] else []) else ['coder-proxy'])
    + workspaceNamespaces;
  {
    components: {
      namespaces: [k.namespace(ns) for ns in platformNamespaces],
    } + (
      if primary then { coder: coder(config).objects }
      else { 'coder-proxy': proxy(config).objects }
    ),
  }
