// The AWS desired state of a region (ACM certificates, Route53 health
// checks and records), built next to the objects that use it: a component
// returns `aws: {certificates, healthChecks, records}` beside its objects
// and main.jsonnet gathers them into its `aws` result, which coderfleet
// writes to regions/<region>/aws/ (docs/sync.md, "Files under
// regions/<region>/aws/") and
// `coderfleet sync` applies. Each item has exactly the keys of the file
// format; coderfleet adds the header (apiVersion, kind, fleet, region).
{
  // The fleet's domain and hosted zone as the files write them: lower
  // case, no trailing dot.
  domain(config):: std.asciiLower(std.rstripChars(config.fleet.domain, '.')),
  zone(config):: std.asciiLower(std.rstripChars(config.fleet.hostedZone, '.')),

  // <region>.<domain>: the region's own name, served by its coderd or
  // workspace proxy.
  regionDomain(config):: config.region.name + '.' + $.domain(config),

  // The ownership tags sync puts on what it creates (awsstate.OwnedTags).
  tags(config, name):: {
    'coderfleet.io/fleet': config.fleet.name,
    'coderfleet.io/region': config.region.name,
    'coderfleet.io/name': name,
  },

  // An ACM certificate named name (the key of the region's
  // outputs.yaml certificates, config.region.certificates) for
  // domainName and sans, validated through DNS in the fleet's zone, in the
  // region's AWS region.
  certificate(config, name, domainName, sans=[]):: {
    name: name,
    awsRegion: config.region.awsRegion,
    domainName: domainName,
    validation: { method: 'DNS', hostedZone: $.zone(config), ttl: 60 },
    tags: $.tags(config, name),
  } + (if std.length(sans) > 0 then { subjectAlternativeNames: sans } else {}),

  // A Route53 HTTPS health check named name probing Coder's build info
  // endpoint at fqdn (domain-spec section B).
  healthCheck(config, name, fqdn):: {
    name: name,
    type: 'HTTPS',
    fqdn: fqdn,
    port: 443,
    resourcePath: '/api/v2/buildinfo',
    requestInterval: 30,
    failureThreshold: 3,
    measureLatency: true,
    tags: $.tags(config, name) { Name: config.fleet.name + '-' + config.region.name + '-' + name },
  },

  // The alias of a record: the load balancer of Service service (the
  // rendered object) in the region's cluster.
  alias(config, service, evaluateTargetHealth):: {
    service: service.metadata.namespace + '/' + service.metadata.name,
    cluster: config.region.clusterName,
    awsRegion: config.region.awsRegion,
    evaluateTargetHealth: evaluateTargetHealth,
  },

  // A simple A record name -> service's load balancer.
  record(config, name, service):: {
    name: name,
    type: 'A',
    routing: { policy: 'simple' },
    alias: $.alias(config, service, false),
  },

  // A latency A record name -> service's load balancer, one per region
  // (set identifier: the region's name), answered only while healthCheck
  // (a health check's name) passes.
  latencyRecord(config, name, service, healthCheck):: {
    name: name,
    type: 'A',
    setIdentifier: config.region.name,
    routing: { policy: 'latency', awsRegion: config.region.awsRegion },
    healthCheck: healthCheck,
    alias: $.alias(config, service, true),
  },

  // The ARN of the certificate named name once sync has issued it (from
  // outputs.yaml), or '' (then the Service renders without one).
  certificateARN(config, name):: std.get(config.region.certificates, name, ''),

  // What a component contributes when it has nothing in AWS.
  none:: { certificates: [], healthChecks: [], records: [] },

  // The region's AWS desired state from its components (a map of name to
  // component), in component name order.
  gather(config, components):: {
    local parts = [std.get(components[c], 'aws', $.none) for c in std.objectFields(components)],
    hostedZone: $.zone(config),
    certificates: std.flattenArrays([std.get(p, 'certificates', []) for p in parts]),
    healthChecks: std.flattenArrays([std.get(p, 'healthChecks', []) for p in parts]),
    records: std.flattenArrays([std.get(p, 'records', []) for p in parts]),
  },
}
