// Package reviewdiff compares two renders of a fleet the way a reviewer
// reads them: per region and component, which Kubernetes objects were
// added, removed or changed, with a field-level diff of each changed object
// (paths such as
// spec.template.spec.containers[coder].env[CODER_ACCESS_URL].value), plus
// the changes to the AWS desired state (certificates, health checks,
// records, IAM roles, secrets) and to the region markers.
//
// The package is pure: Diff takes two sets of rendered trees (as
// render.Render returns them or internal/treeio reads them from disk) and
// returns plain data; Report.Write renders it as text, Markdown (ready to
// paste into a pull-request comment) or JSON. Everything is ordered
// deterministically, so the same inputs give byte-identical reports.
//
// Objects are identified by API group, kind, namespace and name, parsed
// from the YAML files; the file they live in does not matter, so renaming
// a file is not a change. List items are matched by their name field when
// every item of both lists has a unique one (containers, env, ports,
// volumes), otherwise by position after aligning equal items, so inserting
// an argument reports one added item rather than every later one changed.
package reviewdiff
