package coderapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is a call coderd answered with a status other than the documented
// success. Message, Detail and Validations are coderd's error body
// ({message, detail, validations}, docs/reference/api/schemas.md
// codersdk.Response); for a body that is not JSON, Message holds its start.
// Path is the API path without the base URL's path and without query, and
// never holds a token.
type Error struct {
	Method      string
	Path        string
	StatusCode  int
	Message     string
	Detail      string
	Validations []ValidationError
}

// Error prints `coder: <METHOD> <path>: <status>: <message>[: <detail>]`.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "coder: %s %s: %d: %s", e.Method, e.Path, e.StatusCode, e.Message)
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

// HTTPStatusCode is the answer's status. The AWS SDK's retry classifier
// (retry.RetryableHTTPStatusCode and its 429 rule) finds it with errors.As,
// so 429, 500, 502, 503 and 504 are retried without Coder-specific code.
func (e *Error) HTTPStatusCode() int { return e.StatusCode }

// Hint says what the user can do about the status, or "" when there is
// nothing specific to say. It names environment variables, never values.
func (e *Error) Hint() string {
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return "coderd did not accept CODER_SESSION_TOKEN: it is missing, expired or from another deployment; make a new one with `coder tokens create` as an Owner"
	case http.StatusForbidden:
		if strings.Contains(e.Message, "Premium") {
			return "workspace proxies and provisioner keys need a Premium licence on this deployment: add one with `coder licenses add`"
		}
		return "coderfleet needs an Owner's token and a Premium licence: use a token of a user with the Owner role (`coder tokens create`)"
	case http.StatusNotFound:
		return "the object does not exist on this deployment (or the token's user cannot see it): check its name or ID and CODER_URL"
	case http.StatusConflict:
		return "an object of that name already exists: it was made outside coderfleet or by an earlier run"
	case http.StatusBadRequest:
		if len(e.Validations) > 0 {
			parts := make([]string, 0, len(e.Validations))
			for _, v := range e.Validations {
				parts = append(parts, v.Field+": "+v.Detail)
			}
			return "coderd refused the request's fields: " + strings.Join(parts, "; ")
		}
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return "coderd is overloaded or restarting: try again later"
	}
	return ""
}

// IsNotFound reports whether err is (or wraps) a 404 answer from coderd.
func IsNotFound(err error) bool { return statusIs(err, http.StatusNotFound) }

// IsConflict reports whether err is (or wraps) a 409 answer from coderd: an
// object of that name exists.
func IsConflict(err error) bool { return statusIs(err, http.StatusConflict) }

// IsUnauthorized reports whether err is (or wraps) a 401 answer: coderd did
// not accept the token.
func IsUnauthorized(err error) bool { return statusIs(err, http.StatusUnauthorized) }

// IsForbidden reports whether err is (or wraps) a 403 answer: the token's
// user lacks a role, or the deployment lacks the licence feature.
func IsForbidden(err error) bool { return statusIs(err, http.StatusForbidden) }

func statusIs(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == code
}
