// The entry point: coderfleet evaluates this file once per region with the
// region's configuration as `config` (see README, "Template input") and
// writes each component to regions/<region>/<component>/.
local addons = import 'components/addons.libsonnet';
local coder = import 'components/coder.libsonnet';
local flux = import 'components/flux.libsonnet';
local keysync = import 'components/keysync.libsonnet';
local litellm = import 'components/litellm.libsonnet';
local provisioners = import 'components/provisioners.libsonnet';
local proxy = import 'components/proxy.libsonnet';
local k = import 'lib/k.libsonnet';

function(config)
  local s = config.settings;
  local primary = config.region.role == 'primary';
  local withLiteLLM = primary && s.litellm.enabled;
  local workspaces = [ns.name for ns in s.workspaceNamespaces];
  local namespaces =
    (if primary then ['coder'] else ['coder-proxy'])
    + (if withLiteLLM then ['litellm'] else [])
    + workspaces;

  local components = {
    namespaces: [k.namespace(ns) for ns in namespaces],
    addons: addons(config).objects,
  } + (
    if primary then { coder: coder(config).objects }
    else { 'coder-proxy': proxy(config).objects }
  ) + (
    if withLiteLLM then { litellm: litellm(config).objects } else {}
  ) + (
    if std.length(workspaces) > 0 then {
      provisioners: provisioners(config).objects,
      keysync: keysync(config).objects,
    } else {}
  );

  // Components with no objects are left out, so Flux never waits on an
  // empty folder.
  local nonEmpty = { [c]: components[c] for c in std.objectFields(components) if std.length(components[c]) > 0 };
  {
    components: nonEmpty { flux: flux(config, nonEmpty).objects },
  }
