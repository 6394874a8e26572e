// Package sync applies the AWS desired state of a coderfleet repository
// (regions/<region>/aws/*.yaml, see package awsstate) to Route53, ACM, IAM
// (roles for service accounts, with trust policies built from the EKS
// cluster's OIDC issuer) and Secrets Manager (secrets without values).
//
// It works like external-dns: Read collects the actual state through the
// smallest interfaces over the AWS SDK clients, Compute turns desired and
// actual state into a Plan with a pure function, and Apply executes a plan.
// coderfleet changes only what it owns: ACM certificates, Route53 health
// checks, IAM roles and secrets carrying its tags, and Route53 records that have an ownership TXT
// record beside them. Deletions happen only with Options.Prune.
//
// Side effects sit at the edges: the repository is an fs.FS, outputs are
// written through Options.WriteFile, and time goes through Options.Clock.
package sync
