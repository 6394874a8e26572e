// IAM roles for service accounts (IRSA), built next to the ServiceAccount
// that assumes them, so the annotation and the role can never disagree.
// A component that needs AWS permissions returns its roles beside its
// objects (`roles: [...]`); main.jsonnet gathers them into `aws.roles`,
// which coderfleet writes to regions/<region>/aws/roles.yaml and
// `coderfleet sync` applies. The trust policy is not written here: sync
// builds it from the cluster's OIDC issuer (EKS DescribeCluster), admitting
// exactly system:serviceaccount:<namespace>:<name> with audience
// sts.amazonaws.com.
local k = import 'k.libsonnet';

{
  // Whether coderfleet makes the region's IAM roles (settings `iam.mode:
  // managed`); otherwise the role ARN settings are used as they are.
  managed(config):: std.get(std.get(config.settings, 'iam', {}), 'mode', 'external') == 'managed',

  // The IAM path of every role of the fleet: /coderfleet/<fleet>/.
  path(config):: '/coderfleet/' + config.fleet.name + '/',

  // The ARN partition of the region's AWS region.
  partition(config)::
    local r = config.region.awsRegion;
    if std.startsWith(r, 'cn-') then 'aws-cn'
    else if std.startsWith(r, 'us-gov-') then 'aws-us-gov'
    else 'aws',

  // The role of ServiceAccount ns/sa in this region's cluster, named
  // <cluster>-<purpose>. inlinePolicies are made with policy(), managed
  // policies are ARNs.
  role(config, purpose, ns, sa, description, inlinePolicies=[], managedPolicies=[]):: {
    local name = config.region.clusterName + '-' + purpose,
    name: name,
    path: $.path(config),
    description: description,
    serviceAccount: { namespace: ns, name: sa },
    cluster: { name: config.region.clusterName, awsRegion: config.region.awsRegion },
    managedPolicies: std.sort(managedPolicies),
    inlinePolicies: std.sort(inlinePolicies, function(p) p.name),
    tags: {
      'coderfleet.io/fleet': config.fleet.name,
      'coderfleet.io/region': config.region.name,
      'coderfleet.io/name': name,
    },
  },

  // The role's ARN: the value of the ServiceAccount's
  // eks.amazonaws.com/role-arn annotation.
  arn(config, role):: 'arn:' + $.partition(config) + ':iam::' + config.fleet.awsAccountID + ':role' + role.path + role.name,

  // An inline policy named name with the given statements.
  policy(name, statements):: { name: name, document: { Version: '2012-10-17', Statement: statements } },

  // An Allow statement; actions and resources are lists.
  allow(actions, resources, condition=null)::
    { Effect: 'Allow', Action: actions, Resource: resources }
    + (if condition == null then {} else { Condition: condition }),

  // The ServiceAccount that assumes role: annotated with the role's ARN when
  // coderfleet manages IAM, with externalARN (a role ARN setting) otherwise.
  serviceAccount(config, role, externalARN='')::
    k.serviceAccount(role.serviceAccount.namespace,
                     role.serviceAccount.name,
                     if $.managed(config) then $.arn(config, role) else externalARN),

  // The roles a component returns: roles when coderfleet manages IAM,
  // none otherwise.
  roles(config, roles):: if $.managed(config) then roles else [],

  // The ARN of Secrets Manager secret secretID in AWS region awsRegion
  // (default: the primary's). Secrets Manager appends a hyphen and six
  // random characters to a secret's name in its ARN, so exactly those six
  // are matched.
  secretARN(config, secretID, awsRegion=config.primary.awsRegion)::
    'arn:' + $.partition(config) + ':secretsmanager:' + awsRegion + ':' + config.fleet.awsAccountID + ':secret:' + secretID + '-??????',

  // The statements that let a role use the key sync secret with actions:
  // those actions on the secret and, when keySync.kmsKeyID names a key,
  // kmsActions on that key through Secrets Manager in the primary region
  // only.
  secretStatements(config, actions, kmsActions)::
    local ks = config.settings.keySync;
    [$.allow(actions, [$.secretARN(config, ks.secretID)])]
    + (if ks.kmsKeyID == '' then [] else [
         $.allow(kmsActions, [ks.kmsKeyID], {
           StringEquals: { 'kms:ViaService': ['secretsmanager.' + config.primary.awsRegion + '.amazonaws.com'] },
         }),
       ]),
}
