package sync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/config"
)

// TestSecretGuardRefusesBeforeAnyAWSCall hand-edits credentials into the
// committed desired state, as a reviewer might miss: Apply refuses naming
// file and line before a single request reaches AWS (moto), and an
// allowance for exactly that field lets the run go on.
func TestSecretGuardRefusesBeforeAnyAWSCall(t *testing.T) {
	e := motoEnv(t, nil)
	r := newRepo(t, exampleFleet()...)
	const hc = "regions/us-west-2/aws/healthchecks.yaml"
	const certs = "regions/eu-west-2/aws/certificates.yaml"
	tagged := func(p, tag string) {
		t.Helper()
		old := string(r.fs[p].Data)
		edited := strings.Replace(old, "    tags:\n", "    tags:\n      "+tag+"\n", 1)
		if edited == old {
			t.Fatalf("%s has no tags to edit:\n%s", p, old)
		}
		r.fs[p].Data = []byte(edited)
	}
	tagged(hc, "owner-key: AKIA"+"Z7QX3LMV5RB2KD4W")
	tagged(certs, "ci: glpat-"+"Qm7xK2pL9vT4nW8rZ3bY")

	_, err := Apply(context.Background(), e.options(r, newFakeClock()))
	line := 1 + strings.Count(string(r.fs[hc].Data[:strings.Index(string(r.fs[hc].Data), "owner-key")]), "\n")
	var in *InputError
	if !errors.As(err, &in) {
		t.Fatalf("Apply = %v, want an InputError", err)
	}
	for _, want := range []string{
		fmt.Sprintf("%s:%d: region us-west-2", hc, line), "region us-west-2, component aws, field healthChecks[proxy].tags.owner-key: value looks like an AWS access key id",
		certs + ":", `gitleaks' rule "gitlab-pat"`,
		`secretGuard.allow: {object: "aws/healthchecks.yaml", field: "healthChecks[proxy].tags.owner-key"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "Z7QX3LMV") || strings.Contains(err.Error(), "Qm7xK2pL") {
		t.Errorf("error repeats a credential: %v", err)
	}
	calls := e.counter.Calls()
	if len(calls) != 0 || r.writes != 0 {
		t.Errorf("%d kinds of AWS call and %d file writes before the refusal, want none: %v", len(calls), r.writes, calls)
	}

	// Allowances are per region and per field: one region's does not cover
	// another's file.
	opts := e.options(r, newFakeClock())
	opts.SecretGuardAllow = func(region string) []config.Allowance {
		switch region {
		case "us-west-2":
			return []config.Allowance{{Object: "aws/healthchecks.yaml", Field: "healthChecks[proxy].tags.owner-key", Reason: "test"}}
		case "eu-west-2":
			return []config.Allowance{{Object: "aws/certificates.yaml", Field: "certificates[proxy].tags.ci", Reason: "test"}}
		}
		return nil
	}
	if _, err := PlanChanges(context.Background(), opts); err != nil {
		t.Fatalf("with allowances: %v", err)
	}
	opts.SecretGuardAllow = func(string) []config.Allowance {
		return []config.Allowance{{Object: "aws/healthchecks.yaml", Field: "healthChecks[proxy].tags.owner-key", Reason: "test"}}
	}
	if _, err := PlanChanges(context.Background(), opts); err == nil || !strings.Contains(err.Error(), certs) || strings.Contains(err.Error(), hc) {
		t.Errorf("with the health check allowed everywhere: %v, want only %s refused", err, certs)
	}
}
