// Package awsrules holds, in one place, the limits and formats AWS documents
// for the names, ARNs and values coderfleet writes or hands to AWS (ACM,
// Route53, IAM, Secrets Manager, EKS, EC2, Elastic Load Balancing and the
// AWS Load Balancer Controller's Service annotations). Each rule is a pure
// function returning nil or an error whose message states the rule, its
// limit and the AWS document it comes from; HintOf gives the action the user
// can take. Callers (config at load, validate at render, awsstate when the
// desired state is read) wrap these into their own located error types, so
// a value AWS would refuse at apply time is refused at render instead.
package awsrules
