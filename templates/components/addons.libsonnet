// Cluster add-ons (domain-spec A6) as Flux objects: a HelmRepository
// (https:// charts) or OCIRepository (oci:// charts) and a HelmRelease per
// add-on, with pinned versions and install/upgrade remediation, the GitOps
// form of `helm upgrade --install`. Values coderfleet knows (cluster name,
// region, IRSA roles) are set here; the add-on's `values` merge over them.
//
// IRSA roles (settings `iam.mode: managed`): the add-ons that call AWS get a
// role each, returned in `roles` and written to regions/<r>/aws/roles.yaml,
// and their chart creates the ServiceAccount the role trusts, annotated with
// the role's ARN. The policies below grant what each controller does as
// coderfleet installs it, per the controller's documentation; write actions
// are scoped by region and account ARNs and by the tags the controller puts
// on what it creates. Not here:
//  - External Secrets' controller needs no role: each SecretStore
//    (components/secretstores.libsonnet) authenticates with its namespace's
//    `jwt` ServiceAccount (secret-reader), whose role that component makes.
//  - Karpenter's node role (the EC2 instance role its nodes run with) is not
//    an IRSA role; it is made with the cluster. Karpenter's role may pass only
//    the role named <cluster>-karpenter-node (karpenterNodeRole below).
// With `iam.mode: external`, `addons.<name>.roleARN` is the annotation, as
// before, and no role is made.
local iam = import '../lib/iam.libsonnet';
local k = import '../lib/k.libsonnet';

function(config) {
  local ns = config.settings.flux.sourceNamespace,
  local interval = config.settings.flux.interval,
  local cluster = config.region.clusterName,

  local addons = config.settings.addons,
  local managed = iam.managed(config),

  // The chart values of the ServiceAccount that name's pods run as: with a
  // role, the ServiceAccount the role trusts, created by the chart and
  // annotated with the role's ARN; otherwise the roleARN setting, if any.
  // The keys are those of the charts' values.yaml (serviceAccount.create,
  // .name, .annotations).
  local irsa(name, a) =
    if managed && std.objectHas(roles, name) then {
      serviceAccount: {
        create: true,
        name: roles[name].serviceAccount.name,
        annotations: { 'eks.amazonaws.com/role-arn': iam.arn(config, roles[name]) },
      },
    }
    else if a.roleARN != '' then { serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': a.roleARN } } }
    else {},

  // What coderfleet sets for the add-ons it knows.
  local known(name, a) = {
    'aws-load-balancer-controller': {
                                      clusterName: cluster,
                                      region: config.region.awsRegion,
                                    } + (if config.region.vpcID != '' then { vpcId: config.region.vpcID } else {}) + irsa(name, a)
                                    + (
                                      // Shield and WAF serve ALB Ingresses only; the role grants neither.
                                      if managed then { enableShield: false, enableWaf: false, enableWafv2: false } else {}
                                    ),
    'cert-manager': { crds: { enabled: true } },
    // Serves ExternalSecret/SecretStore for keySync.mode externalsecrets.
    'external-secrets': { installCRDs: true },
    karpenter: { settings: { clusterName: cluster } } + irsa(name, a),
    'metrics-server': {},
    // The chart's controller (ebs-csi-controller-sa) calls EC2; its node
    // DaemonSet does not.
    'aws-ebs-csi-driver': { controller: irsa(name, a) },
  },
  local baseValues(name, a) = std.get(known(name, a), name, irsa(name, a)),

  // ---- IRSA roles of the add-ons that call AWS --------------------------

  local partition = iam.partition(config),
  local account = config.fleet.awsAccountID,
  local awsRegion = config.region.awsRegion,
  // arn:<partition>:<service>:<region>:<account>:<resource> for this
  // region and account.
  local arn(service, resource) = 'arn:' + partition + ':' + service + ':' + awsRegion + ':' + account + ':' + resource,
  local stmt(sid, actions, resources, condition=null) = { Sid: sid } + iam.allow(actions, resources, condition),
  // The add-on's own values (null when the setting has none).
  local userValues(a) = if a.values == null then {} else a.values,

  // The name of the EC2 instance role Karpenter's nodes run with (the role
  // of an EC2NodeClass's spec.role); made with the cluster, not here.
  local karpenterNodeRole = cluster + '-karpenter-node',

  // AWS Load Balancer Controller: makes the NLBs (and ALBs) of Services
  // and Ingresses, their target groups, listeners and security groups, and
  // lets their traffic reach the nodes. Every ELB and security group it
  // creates carries the tag elbv2.k8s.aws/cluster=<cluster>.
  local lbcTag = 'elbv2.k8s.aws/cluster',
  local lbcOwned = { StringEquals: { ['aws:ResourceTag/' + lbcTag]: [cluster] } },
  local loadBalancers = [arn('elasticloadbalancing', 'loadbalancer/net/*/*'), arn('elasticloadbalancing', 'loadbalancer/app/*/*')],
  local targetGroups = [arn('elasticloadbalancing', 'targetgroup/*/*')],
  local listeners = [arn('elasticloadbalancing', 'listener/net/*/*/*'), arn('elasticloadbalancing', 'listener/app/*/*/*')],
  local listenerRules = [arn('elasticloadbalancing', 'listener-rule/net/*/*/*/*'), arn('elasticloadbalancing', 'listener-rule/app/*/*/*/*')],
  local securityGroups = [arn('ec2', 'security-group/*')],
  local lbcPolicy = iam.policy('aws-load-balancer-controller', [
    // Reads the VPC, subnets, security groups, instances and ENIs it places
    // load balancers and targets in, the load balancers themselves, and the
    // certificates (ACM or IAM) and Cognito clients listeners refer to.
    stmt('Discover', [
      'acm:DescribeCertificate',
      'acm:ListCertificates',
      'cognito-idp:DescribeUserPoolClient',
      'ec2:DescribeAccountAttributes',
      'ec2:DescribeAddresses',
      'ec2:DescribeAvailabilityZones',
      'ec2:DescribeCoipPools',
      'ec2:DescribeInstances',
      'ec2:DescribeInternetGateways',
      'ec2:DescribeIpamPools',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeRouteTables',
      'ec2:DescribeSecurityGroups',
      'ec2:DescribeSubnets',
      'ec2:DescribeTags',
      'ec2:DescribeVpcPeeringConnections',
      'ec2:DescribeVpcs',
      'ec2:GetCoipPoolUsage',
      'ec2:GetSecurityGroupsForVpc',
      'elasticloadbalancing:DescribeCapacityReservation',
      'elasticloadbalancing:DescribeListenerAttributes',
      'elasticloadbalancing:DescribeListenerCertificates',
      'elasticloadbalancing:DescribeListeners',
      'elasticloadbalancing:DescribeLoadBalancerAttributes',
      'elasticloadbalancing:DescribeLoadBalancers',
      'elasticloadbalancing:DescribeRules',
      'elasticloadbalancing:DescribeSSLPolicies',
      'elasticloadbalancing:DescribeTags',
      'elasticloadbalancing:DescribeTargetGroupAttributes',
      'elasticloadbalancing:DescribeTargetGroups',
      'elasticloadbalancing:DescribeTargetHealth',
      'elasticloadbalancing:DescribeTrustStores',
      'iam:GetServerCertificate',
      'iam:ListServerCertificates',
    ], ['*']),
    // The first load balancer of an account needs ELB's service-linked role;
    // the controller creates it if it is missing, and nothing else.
    stmt('ServiceLinkedRole', ['iam:CreateServiceLinkedRole'], [
      'arn:' + partition + ':iam::' + account + ':role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing',
    ], { StringEquals: { 'iam:AWSServiceName': ['elasticloadbalancing.amazonaws.com'] } }),
    // A load balancer's own security group: created in the VPC only with
    // the cluster tag (which the next statement lets it set at creation),
    // then changed and deleted only while it carries that tag.
    stmt('CreateSecurityGroupInVPC', ['ec2:CreateSecurityGroup'], [
      arn('ec2', if config.region.vpcID != '' then 'vpc/' + config.region.vpcID else 'vpc/*'),
    ]),
    stmt('CreateSecurityGroupTagged', ['ec2:CreateSecurityGroup'], securityGroups, {
      StringEquals: { ['aws:RequestTag/' + lbcTag]: [cluster] },
    }),
    stmt('TagSecurityGroupAtCreation', ['ec2:CreateTags'], securityGroups, {
      StringEquals: { 'ec2:CreateAction': ['CreateSecurityGroup'], ['aws:RequestTag/' + lbcTag]: [cluster] },
    }),
    stmt('ManageOwnSecurityGroups', [
      'ec2:AuthorizeSecurityGroupIngress',
      'ec2:CreateTags',
      'ec2:DeleteSecurityGroup',
      'ec2:DeleteTags',
      'ec2:RevokeSecurityGroupIngress',
    ], securityGroups, lbcOwned),
    // Lets load balancer traffic reach the nodes: ingress rules on the
    // nodes' security group, which EKS tags kubernetes.io/cluster/<cluster>
    // (the controller picks that group when an ENI has several).
    stmt('NodeSecurityGroupRules', ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress'], securityGroups, {
      StringEquals: { ['aws:ResourceTag/kubernetes.io/cluster/' + cluster]: ['owned', 'shared'] },
    }),
    // New load balancers and target groups must carry the cluster tag,
    // which the controller sets in the create call.
    stmt('CreateLoadBalancersTagged', ['elasticloadbalancing:CreateLoadBalancer', 'elasticloadbalancing:CreateTargetGroup'], loadBalancers + targetGroups, {
      StringEquals: { ['aws:RequestTag/' + lbcTag]: [cluster] },
    }),
    stmt('TagLoadBalancersAtCreation', ['elasticloadbalancing:AddTags'], loadBalancers + targetGroups, {
      StringEquals: {
        'elasticloadbalancing:CreateAction': ['CreateLoadBalancer', 'CreateTargetGroup'],
        ['aws:RequestTag/' + lbcTag]: [cluster],
      },
    }),
    // Changes, targets, tags and deletion of the load balancers and target
    // groups of this cluster only.
    stmt('ManageOwnLoadBalancers', [
      'elasticloadbalancing:AddTags',
      'elasticloadbalancing:DeleteLoadBalancer',
      'elasticloadbalancing:DeleteTargetGroup',
      'elasticloadbalancing:DeregisterTargets',
      'elasticloadbalancing:ModifyCapacityReservation',
      'elasticloadbalancing:ModifyIpPools',
      'elasticloadbalancing:ModifyLoadBalancerAttributes',
      'elasticloadbalancing:ModifyTargetGroup',
      'elasticloadbalancing:ModifyTargetGroupAttributes',
      'elasticloadbalancing:RegisterTargets',
      'elasticloadbalancing:RemoveTags',
      'elasticloadbalancing:SetIpAddressType',
      'elasticloadbalancing:SetSecurityGroups',
      'elasticloadbalancing:SetSubnets',
    ], loadBalancers + targetGroups, lbcOwned),
    // Listeners go only on this cluster's load balancers.
    stmt('CreateListenersOnOwnLoadBalancers', ['elasticloadbalancing:CreateListener'], loadBalancers, lbcOwned),
    // Listeners and their rules, certificates and tags. ELB checks these
    // against the listener and rule ARNs, and listeners made before the
    // controller tagged them carry no tags, so they are limited to this
    // region and account.
    stmt('ManageListeners', [
      'elasticloadbalancing:AddListenerCertificates',
      'elasticloadbalancing:AddTags',
      'elasticloadbalancing:CreateListener',
      'elasticloadbalancing:CreateRule',
      'elasticloadbalancing:DeleteListener',
      'elasticloadbalancing:DeleteRule',
      'elasticloadbalancing:ModifyListener',
      'elasticloadbalancing:ModifyListenerAttributes',
      'elasticloadbalancing:ModifyRule',
      'elasticloadbalancing:RemoveListenerCertificates',
      'elasticloadbalancing:RemoveTags',
      'elasticloadbalancing:SetRulePriorities',
    ], listeners + listenerRules),
  ]),

  // Karpenter: launches and terminates the EC2 instances of its NodePools
  // (through launch templates and CreateFleet), manages the instance
  // profiles of its EC2NodeClasses, and reads prices and AMI parameters.
  // What it creates carries kubernetes.io/cluster/<cluster>=owned,
  // eks:eks-cluster-name=<cluster> and karpenter.sh/nodepool (instances,
  // launch templates) or karpenter.k8s.aws/ec2nodeclass (instance profiles).
  local clusterTag = 'kubernetes.io/cluster/' + cluster,
  local interruptionQueue = std.get(std.get(userValues(addons.karpenter), 'settings', {}), 'interruptionQueue', ''),
  // The tags a launch must set on what it creates (CreateTagged,
  // TagAtCreation).
  local createTags = {
    StringEquals: { ['aws:RequestTag/' + clusterTag]: ['owned'], 'aws:RequestTag/eks:eks-cluster-name': [cluster] },
    Null: { 'aws:RequestTag/karpenter.sh/nodepool': ['false'] },
  },
  local created = [arn('ec2', r) for r in ['fleet/*', 'instance/*', 'launch-template/*', 'network-interface/*', 'spot-instances-request/*', 'volume/*']],
  // Its instance profiles: the ARNs, the tags a new one must carry, the
  // tags an existing one must carry to be changed.
  local profiles = ['arn:' + partition + ':iam::' + account + ':instance-profile/*'],
  local profileRequestTags = {
    StringEquals: {
      ['aws:RequestTag/' + clusterTag]: ['owned'],
      'aws:RequestTag/eks:eks-cluster-name': [cluster],
      'aws:RequestTag/topology.kubernetes.io/region': [awsRegion],
    },
    Null: { 'aws:RequestTag/karpenter.k8s.aws/ec2nodeclass': ['false'] },
  },
  local profileOwned = {
    StringEquals: {
      ['aws:ResourceTag/' + clusterTag]: ['owned'],
      'aws:ResourceTag/topology.kubernetes.io/region': [awsRegion],
    },
    Null: { 'aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass': ['false'] },
  },
  local karpenterPolicy = iam.policy('karpenter', [
    // Instance types, offerings, prices, subnets, security groups, images
    // and capacity reservations it chooses from, in this region.
    stmt('Discover', [
      'ec2:DescribeAvailabilityZones',
      'ec2:DescribeCapacityReservations',
      'ec2:DescribeImages',
      'ec2:DescribeInstanceTypeOfferings',
      'ec2:DescribeInstanceTypes',
      'ec2:DescribeInstances',
      'ec2:DescribeLaunchTemplates',
      'ec2:DescribeSecurityGroups',
      'ec2:DescribeSpotPriceHistory',
      'ec2:DescribeSubnets',
    ], ['*'], { StringEquals: { 'aws:RequestedRegion': [awsRegion] } }),
    // On-demand prices (the Price List API) and the instance profiles of
    // its EC2NodeClasses.
    stmt('DiscoverPricesAndProfiles', ['iam:GetInstanceProfile', 'iam:ListInstanceProfiles', 'pricing:GetProducts'], ['*']),
    // The AMI ids of EKS-optimized images are public SSM parameters.
    stmt('ResolveAMIAliases', ['ssm:GetParameter'], ['arn:' + partition + ':ssm:' + awsRegion + '::parameter/aws/service/*']),
    // The API server endpoint of its own cluster.
    stmt('DescribeOwnCluster', ['eks:DescribeCluster'], [arn('eks', 'cluster/' + cluster)]),
    // Existing resources a launch refers to: images, snapshots, subnets,
    // security groups and capacity reservations of this region (subnets
    // and reservations may be shared from another account).
    stmt('LaunchWithExisting', ['ec2:CreateFleet', 'ec2:RunInstances'], [
      'arn:' + partition + ':ec2:' + awsRegion + '::image/*',
      'arn:' + partition + ':ec2:' + awsRegion + '::snapshot/*',
      'arn:' + partition + ':ec2:' + awsRegion + ':*:capacity-reservation/*',
      'arn:' + partition + ':ec2:' + awsRegion + ':*:security-group/*',
      'arn:' + partition + ':ec2:' + awsRegion + ':*:subnet/*',
    ]),
    // A launch uses one of its own launch templates.
    stmt('LaunchFromOwnTemplates', ['ec2:CreateFleet', 'ec2:RunInstances'], [arn('ec2', 'launch-template/*')], {
      StringEquals: { ['aws:ResourceTag/' + clusterTag]: ['owned'] },
      Null: { 'aws:ResourceTag/karpenter.sh/nodepool': ['false'] },
    }),
    // What a launch creates (the fleet, instances, volumes, network
    // interfaces, spot requests) and new launch templates must carry the
    // cluster's tags and a NodePool; tagging is allowed in those calls.
    stmt('CreateTagged', ['ec2:CreateFleet', 'ec2:CreateLaunchTemplate', 'ec2:RunInstances'], created, createTags),
    stmt('TagAtCreation', ['ec2:CreateTags'], created, createTags {
      StringEquals+: { 'ec2:CreateAction': ['CreateFleet', 'CreateLaunchTemplate', 'RunInstances'] },
    }),
    // After launch it names the instance and records its NodeClaim: only
    // those tag keys, only on its own instances.
    stmt('TagOwnInstances', ['ec2:CreateTags'], [arn('ec2', 'instance/*')], {
      StringEquals: { ['aws:ResourceTag/' + clusterTag]: ['owned'] },
      StringEqualsIfExists: { 'aws:RequestTag/eks:eks-cluster-name': [cluster] },
      Null: { 'aws:ResourceTag/karpenter.sh/nodepool': ['false'] },
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['Name', 'eks:eks-cluster-name', 'karpenter.sh/nodeclaim'] },
    }),
    // Terminates its own instances and deletes its own launch templates.
    stmt('DeleteOwn', ['ec2:DeleteLaunchTemplate', 'ec2:TerminateInstances'], [arn('ec2', 'instance/*'), arn('ec2', 'launch-template/*')], {
      StringEquals: { ['aws:ResourceTag/' + clusterTag]: ['owned'] },
      Null: { 'aws:ResourceTag/karpenter.sh/nodepool': ['false'] },
    }),
    // Instances run with the node role only (see karpenterNodeRole), and
    // only EC2 may receive it; adding it to an instance profile passes it too.
    stmt('PassNodeRole', ['iam:PassRole'], [
      'arn:' + partition + ':iam::' + account + ':role/' + karpenterNodeRole,
      'arn:' + partition + ':iam::' + account + ':role/*/' + karpenterNodeRole,
    ], { StringEquals: { 'iam:PassedToService': ['ec2.amazonaws.com'] + (if partition == 'aws-cn' then ['ec2.amazonaws.com.cn'] else []) } }),
    // The instance profiles of its EC2NodeClasses: created with the
    // cluster's and the region's tags, then changed, tagged and deleted
    // only while they carry them.
    stmt('CreateInstanceProfilesTagged', ['iam:CreateInstanceProfile'], profiles, profileRequestTags),
    stmt('TagOwnInstanceProfiles', ['iam:TagInstanceProfile'], profiles, {
      StringEquals: profileOwned.StringEquals + profileRequestTags.StringEquals,
      Null: profileOwned.Null + profileRequestTags.Null,
    }),
    stmt('ManageOwnInstanceProfiles', ['iam:AddRoleToInstanceProfile', 'iam:DeleteInstanceProfile', 'iam:RemoveRoleFromInstanceProfile'], profiles, profileOwned),
  ] + (
    // Spot interruption and rebalance notices, when the chart is given a
    // queue (addons.karpenter.values.settings.interruptionQueue).
    if interruptionQueue != '' then [
      stmt('InterruptionQueue', ['sqs:DeleteMessage', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'], [arn('sqs', interruptionQueue)]),
    ] else []
  )),

  // The roles, by add-on; the SA names are the charts' own defaults.
  local roles = {
    'aws-load-balancer-controller': iam.role(
      config,
      'aws-load-balancer-controller',
      addons['aws-load-balancer-controller'].namespace,
      'aws-load-balancer-controller',
      'AWS Load Balancer Controller of cluster ' + cluster + ': its load balancers, target groups and security groups',
      [lbcPolicy],
    ),
    karpenter: iam.role(
      config,
      'karpenter',
      addons.karpenter.namespace,
      'karpenter',
      'Karpenter of cluster ' + cluster + ': launches and terminates its nodes',
      [karpenterPolicy],
    ),
    // AWS publishes the EBS CSI driver's policy as a managed policy.
    'aws-ebs-csi-driver': iam.role(
      config,
      'ebs-csi',
      addons['aws-ebs-csi-driver'].namespace,
      'ebs-csi-controller-sa',
      'EBS CSI driver of cluster ' + cluster + ': creates, attaches and deletes volumes',
      [],
      ['arn:' + partition + ':iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy'],
    ),
  },

  local isOCI(a) = std.startsWith(a.repository, 'oci://'),

  local source(name, a) =
    if isOCI(a) then {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'OCIRepository',
      metadata: { name: name, namespace: ns },
      spec: {
        interval: interval,
        url: a.repository + '/' + a.chart,
        ref: { tag: a.version },
        layerSelector: { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', operation: 'copy' },
      },
    } else {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'HelmRepository',
      metadata: { name: name, namespace: ns },
      spec: { interval: interval, url: a.repository },
    },

  local release(name, a) = {
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: name, namespace: ns },
    spec: {
      interval: interval,
      releaseName: name,
      targetNamespace: a.namespace,
      install: { createNamespace: true, remediation: { retries: 3 } },
      upgrade: { cleanupOnFail: true, remediation: { retries: 3, remediateLastFailure: true } },
      // std.mergePatch is written in Jsonnet (about 1 ms a call in
      // go-jsonnet); with no values of the add-on's own the result is
      // coderfleet's values as they are.
      values: if std.length(userValues(a)) == 0 then baseValues(name, a) else std.mergePatch(baseValues(name, a), userValues(a)),
    } + (
      if isOCI(a) then { chartRef: { kind: 'OCIRepository', name: name } }
      else { chart: { spec: { chart: a.chart, version: a.version, sourceRef: { kind: 'HelmRepository', name: name }, interval: interval } } }
    ),
  },

  // leaves lists the dotted paths of the values an object sets.
  local leaves(o, prefix='') = std.flattenArrays([
    if std.type(o[f]) == 'object' && std.length(o[f]) > 0 then leaves(o[f], prefix + f + '.') else [prefix + f]
    for f in std.objectFields(o)
  ]),
  // The chart values coderfleet sets for each enabled add-on, by dotted
  // path: an add-on's `values` may add values but never replace these.
  pinnedValues: {
    [name]: {
      [path]: if !std.endsWith(path, 'eks.amazonaws.com/role-arn') then 'set by templates/components/addons.libsonnet'
      else if managed && std.objectHas(roles, name) then 'set to the ARN of role ' + roles[name].name + ', which coderfleet makes (aws/roles.yaml)'
      else 'set from addons.' + name + '.roleARN'
      for path in leaves(baseValues(name, addons[name]))
    }
    for name in std.objectFields(addons)
    if addons[name].enabled
  },
  // The namespace of every enabled add-on -> the add-ons installed there.
  namespaces: {
    [a]: [name for name in std.objectFields(addons) if addons[name].enabled && addons[name].namespace == a]
    for a in std.set([addons[n].namespace for n in std.objectFields(addons) if addons[n].enabled])
  },
  // Flux dependsOn (components/flux.libsonnet): add-ons come first.
  dependsOn: [],
  // The IRSA roles of the enabled add-ons (none unless iam.mode is managed).
  roles: iam.roles(config, [
    roles[name]
    for name in std.objectFields(roles)
    if std.objectHas(addons, name) && addons[name].enabled
  ]),
  // The name of the role Karpenter's nodes run with, which Karpenter's own
  // role may pass to EC2: made with the cluster, not by coderfleet.
  karpenterNodeRole: karpenterNodeRole,
  objects: std.flattenArrays([
    [source(name, addons[name]), release(name, addons[name])]
    for name in std.objectFields(addons)
    if addons[name].enabled
  ]),
}
