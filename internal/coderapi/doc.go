// Package coderapi is coderfleet's client for the parts of Coder's REST API
// that sync and status use: workspace proxies, organizations, provisioner
// keys, provisioner daemons and build information.
//
// The types are written by us from Coder's published API reference (the
// coder/coder repository: docs/reference/api/enterprise.md,
// docs/reference/api/organizations.md, docs/reference/api/provisioning.md,
// docs/reference/api/general.md and docs/reference/api/schemas.md) and carry
// Coder's JSON field names. Only the fields coderfleet reads are declared;
// unknown fields in answers are ignored, so newer coderd releases still
// decode.
//
// Every request carries the session token in the Coder-Session-Token header
// (Coder's documented API-key header). The token never appears in an error,
// a String() result or a log line: errors name the method, the API path and
// coderd's own message, and any copy of the token coderd echoes back is
// replaced before it reaches an error.
//
// A failed call returns *Error. Its HTTPStatusCode method lets the AWS SDK's
// retry classifier (retry.DefaultRetryables, used by sync) retry 429 and 5xx
// answers, and transport failures keep their *url.Error chain so connection
// errors are retried too.
package coderapi
