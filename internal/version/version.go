// Package version holds coderfleet's version. It is a constant in the
// source, not a link-time flag, because it is recorded in rendered output
// and two builds of the same source must render byte-identical trees.
package version

// Version is coderfleet's release version.
const Version = "0.1.0"
