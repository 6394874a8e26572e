// Small constructors for Kubernetes objects. Every object a component
// returns goes through one of these so names, namespaces and labels are
// consistent across components.
{
  labels(app, component):: {
    'app.kubernetes.io/name': app,
    'app.kubernetes.io/part-of': 'coder-platform',
    'app.kubernetes.io/component': component,
  },

  namespace(name):: {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: name, labels: { 'kubernetes.io/metadata.name': name } },
  },

  serviceAccount(ns, name, roleArn=''):: {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: name,
      namespace: ns,
    } + (if roleArn != '' then { annotations: { 'eks.amazonaws.com/role-arn': roleArn } } else {}),
  },

  role(ns, name, rules):: {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: name, namespace: ns },
    rules: rules,
  },

  roleBinding(ns, name, role, serviceAccount):: {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: name, namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
    subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: ns }],
  },

  // env builds a container env list from an object of name -> value, where a
  // value is a string or a {secret, key} / {field} reference. Field
  // references come first (later values may expand them as $(NAME)), then
  // everything sorted by name so output never depends on field order.
  env(vars)::
    local isField(name) = std.type(vars[name]) == 'object' && std.objectHas(vars[name], 'field');
    local names = [n for n in std.objectFields(vars) if isField(n)] + [n for n in std.objectFields(vars) if !isField(n)];
    [
      local v = vars[name];
      if std.type(v) == 'string' then { name: name, value: v }
      else if std.objectHas(v, 'secret') then { name: name, valueFrom: { secretKeyRef: { name: v.secret, key: v.key } } }
      else { name: name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: v.field } } }
      for name in names
    ],

  secretRef(secret, key):: { secret: secret, key: key },

  resources(r):: {
    requests: { cpu: r.requests.cpu, memory: r.requests.memory },
    limits: { cpu: r.limits.cpu, memory: r.limits.memory },
  },

  image(img):: img.repository + ':' + img.tag,

  // The restricted pod security profile: non-root, no privilege escalation,
  // no capabilities, RuntimeDefault seccomp.
  podSecurity(uid=1000):: {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: 'RuntimeDefault' },
  },
  containerSecurity:: {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: false,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
  },

  // dedicated schedules pods onto the Karpenter node pool used for `what`.
  dedicated(what):: {
    nodeSelector: {
      'node.coder.io/managed-by': 'karpenter',
      'node.coder.io/used-for': what,
    },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: what, effect: 'NoSchedule' }],
  },

  spreadOverHosts(selector):: [{
    maxSkew: 1,
    topologyKey: 'kubernetes.io/hostname',
    whenUnsatisfiable: 'ScheduleAnyway',
    labelSelector: { matchLabels: selector },
  }],

  // nlbAnnotations are the AWS Load Balancer Controller annotations of a
  // Service whose NLB terminates TLS with the ACM certificate certArn.
  nlbAnnotations(lb, certArn):: {
    'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
    'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': lb.targetType,
    'service.beta.kubernetes.io/aws-load-balancer-scheme': lb.scheme,
    'service.beta.kubernetes.io/aws-load-balancer-backend-protocol': 'tcp',
    'service.beta.kubernetes.io/aws-load-balancer-ssl-ports': '443',
    'service.beta.kubernetes.io/aws-load-balancer-attributes':
      'deletion_protection.enabled=' + lb.deletionProtection + ',load_balancing.cross_zone.enabled=' + lb.crossZone,
  } + (if certArn != '' then { 'service.beta.kubernetes.io/aws-load-balancer-ssl-cert': certArn } else {}),

  // nlbService is a LoadBalancer Service on an NLB: 443 (TLS at the NLB)
  // goes straight to the container's `http` port.
  nlbService(ns, name, selector, lb, certArn, labels={}):: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: name, namespace: ns, labels: labels, annotations: $.nlbAnnotations(lb, certArn) },
    spec: {
      type: 'LoadBalancer',
      loadBalancerClass: 'service.k8s.aws/nlb',
      sessionAffinity: 'None',
      selector: selector,
      ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 'http' }],
    } + (if std.length(lb.sourceRanges) > 0 then { loadBalancerSourceRanges: lb.sourceRanges } else {}),
  },

  // cronJob runs `script` with sh on schedule `schedule` as ServiceAccount
  // `name`, with the key sync settings ks (image, resources, time zone).
  cronJob(ns, name, ks, schedule, script, env):: {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: name, namespace: ns },
    spec: {
      schedule: schedule,
      timeZone: ks.timeZone,
      concurrencyPolicy: 'Replace',
      successfulJobsHistoryLimit: 0,
      failedJobsHistoryLimit: 1,
      jobTemplate: {
        spec: {
          backoffLimit: 3,
          template: {
            spec: {
              serviceAccountName: name,
              restartPolicy: 'OnFailure',
              securityContext: $.podSecurity(1000),
              containers: [{
                name: name,
                image: $.image(ks.image),
                imagePullPolicy: 'IfNotPresent',
                command: ['/bin/sh', '-c', script],
                env: $.env(env { HOME: '/tmp' }),
                resources: $.resources(ks.resources),
                securityContext: $.containerSecurity,
              }],
            },
          },
        },
      },
    },
  },
}
