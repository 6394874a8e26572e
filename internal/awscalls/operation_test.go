package awscalls

import (
	"net/http/httptest"
	"testing"
)

// TestOperationNamesRoute53TagCalls: Route53's tag paths end like its
// health check paths (/tags/healthcheck[/<id>]); each must get its own
// name, and the read of tags must not count as a mutating call.
func TestOperationNamesRoute53TagCalls(t *testing.T) {
	for _, c := range []struct{ method, path, op string }{
		{"POST", "/2013-04-01/tags/healthcheck", "ListTagsForResources"},
		{"GET", "/2013-04-01/tags/healthcheck/abc-123", "ListTagsForResource"},
		{"POST", "/2013-04-01/tags/healthcheck/abc-123", "ChangeTagsForResource"},
		{"POST", "/2013-04-01/healthcheck", "CreateHealthCheck"},
		{"POST", "/2013-04-01/healthcheck/abc-123", "UpdateHealthCheck"},
		{"GET", "/2013-04-01/healthcheck", "ListHealthChecks"},
	} {
		if got := Operation(httptest.NewRequest(c.method, c.path, nil)); got != c.op {
			t.Errorf("%s %s is %q, want %q", c.method, c.path, got, c.op)
		}
	}
	if Mutating("ListTagsForResources") || !Mutating("ChangeTagsForResource") {
		t.Error("ListTagsForResources must read, ChangeTagsForResource change")
	}
}
