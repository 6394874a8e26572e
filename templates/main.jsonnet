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
local secretstores = import 'components/secretstores.libsonnet';
local aws = import 'lib/aws.libsonnet';
local iam = import 'lib/iam.libsonnet';
local k = import 'lib/k.libsonnet';

function(config)
  local s = config.settings;
  local primary = config.region.role == 'primary';
  local withLiteLLM = primary && s.litellm.enabled;
  local workspaces = [ns.name for ns in s.workspaceNamespaces];
  local coderNS = coder(config).namespace;
  local proxyNS = proxy(config).namespace;
  local litellmNS = litellm(config).namespace;
  local namespaces =
    (if primary then [coderNS] else [proxyNS])
    + (if withLiteLLM then [litellmNS] else [])
    + workspaces;

  // Each component: its objects and the components Flux applies before it
  // (dependsOn, declared next to the objects; see components/flux.libsonnet).
  // The Secrets read through External Secrets (each component's
  // secretReads) get their ServiceAccounts, roles and SecretStores from
  // component secretstores, which every such component depends on.
  local readsOf(comps) = std.flattenArrays([std.get(comps[c], 'secretReads', []) for c in std.objectFields(comps)]);
  local base = {
    namespaces: { objects: [k.namespace(ns) for ns in namespaces], dependsOn: ['addons'] },
    addons: addons(config),
  } + (
    if primary then { coder: coder(config) }
    else { 'coder-proxy': proxy(config) }
  ) + (
    if withLiteLLM then { litellm: litellm(config) } else {}
  ) + (
    if std.length(workspaces) > 0 then { provisioners: provisioners(config) } else {}
  ) + (
    // Key sync copies the key LiteLLM's rotate-key CronJob writes: without
    // LiteLLM (litellm.enabled: false) nothing writes or lists that secret.
    if std.length(workspaces) > 0 && s.litellm.enabled then { keysync: keysync(config) } else {}
  );
  local components = base { secretstores: secretstores(config, readsOf(base)) };

  // Components with no objects are left out, so Flux never waits on an
  // empty folder.
  local nonEmpty = {
    [c]: components[c].objects
    for c in std.objectFields(components)
    if std.length(components[c].objects) > 0
  };
  // Names coderfleet owns, by the setting where a user could choose them:
  // coderfleet refuses a setting that names one (file, line and key), so
  // a user's choice never replaces or collides with what is rendered here.
  // A path's `[]` stands for every list item, `*` for every map entry.
  local platformNamespaces = {
    [coderNS]: "coderd's namespace (primary region)",
    [proxyNS]: "the workspace proxy's namespace (proxy regions)",
    [litellmNS]: "LiteLLM's namespace (primary region)",
  };
  local addonNamespaces = addons(config).namespaces;
  // ServiceAccounts the workspace components create in every workspace
  // namespace, beside the workspaces' own one named after the namespace, in
  // any key sync or secrets mode: each component declares them next to its
  // objects (workspaceServiceAccounts), whether or not the region renders
  // it, so a namespace name valid in one mode stays valid in the other.
  // A Go test (render, TestWorkspaceServiceAccountsOwned) renders the
  // fleets in every mode and fails on a ServiceAccount not declared.
  local workspaceAccounts = std.set(std.flattenArrays([
    std.get(c, 'workspaceServiceAccounts', [])
    for c in [provisioners(config), keysync(config), secretstores(config, [])]
  ]));
  local domain = aws.domain(config);
  local owned = {
    // A region's name is the label of its own records (<region>.<domain>,
    // *.<region>.<domain>): it must not be a label the templates give
    // another name of the fleet.
    'region.name': {
      hint: 'call the region after its place or AWS region, such as us-west-2 or london',
      names: {
        [litellm(config).dnsLabel]: "it is the label of LiteLLM's name " + litellm(config).dnsLabel + '.' + domain + ", and a region's name is the label of its own records (<region>." + domain + ', *.<region>.' + domain + ')',
      },
    },
    'coder.env': {
      hint: 'remove it from coder.env; coderfleet sets it for every region',
      names: coder(config).pinnedEnv,
    },
    'workspaceNamespaces[].name': {
      hint: 'pick a namespace of its own, such as coder-ws-<team>',
      // Later entries win where two describe one name: namespaces first.
      names: {
        [n]: "a ServiceAccount the provisioner, key sync or the namespace's SecretStores create in every workspace namespace, where the workspaces get a ServiceAccount named after the namespace"
        for n in workspaceAccounts
      } + {
        // The add-on side is a setting too: name it, so a user who moved
        // an add-on into a workspace namespace sees both ends.
        [n]: 'the namespace of the add-on(s) ' + std.join(', ', [a + ' (addons.' + a + '.namespace)' for a in addonNamespaces[n]])
        for n in std.objectFields(addonNamespaces)
      } + {
        [s.flux.sourceNamespace]: "Flux's namespace (flux.sourceNamespace)",
      } + {
        // Kubernetes's initial namespaces (kubernetes.io/docs, "Namespaces").
        [n]: 'a Kubernetes system namespace'
        for n in ['default', 'kube-node-lease', 'kube-public', 'kube-system']
      } + platformNamespaces,
    },
    'flux.sourceNamespace': {
      hint: 'use the namespace Flux was bootstrapped into, normally flux-system',
      names: platformNamespaces,
    },
    'addons.*.namespace': {
      hint: 'install add-ons into kube-system or a namespace of their own',
      names: platformNamespaces,
    },
  } + {
    ['addons.' + name + '.values']: {
      hint: 'remove it from addons.' + name + '.values; coderfleet sets it',
      names: addons(config).pinnedValues[name],
    }
    for name in std.objectFields(addons(config).pinnedValues)
  };
  // The region's AWS desired state (lib/aws.libsonnet): what each
  // component needs in ACM and Route53, the Secrets Manager secrets its
  // manifests read, the Coder workspace proxy and provisioner keys sync
  // registers (domain-spec E), and, when coderfleet manages IAM, every
  // component's IAM roles (lib/iam.libsonnet).
  local gathered(key) = std.flattenArrays([std.get(components[c], key, []) for c in std.objectFields(components)]);
  local awsState = aws.gather(config, components) + {
    secrets: gathered('secrets'),
    workspaceProxies: gathered('workspaceProxies'),
    provisionerKeys: gathered('provisionerKeys'),
  } + (
    if iam.managed(config) then {
      roles: gathered('roles'),
    } else {}
  );
  {
    components: nonEmpty { flux: flux(config, components).objects },
    owned: owned,
    aws: awsState,
  }
