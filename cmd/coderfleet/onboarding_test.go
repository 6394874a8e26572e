package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"sigs.k8s.io/yaml"

	"github.com/coderfleet/coderfleet/internal/motoserver"
)

// TestOnboardingAgainstMoto walks DESIGN.md's region onboarding through the
// CLI only: region add -> render -> (the platform team creates the EKS
// clusters and their IAM OIDC providers) -> sync apply (certificates, IAM
// roles, secrets) -> render -> (Flux applies; the load balancer controller
// makes the NLBs) -> sync apply (DNS), against a moto_server started here
// (with AWS managed policies loaded, which roles attach). No IAM step is done
// by hand: at the end every annotated ServiceAccount's role exists and trusts
// exactly it. The AWS SDK reaches moto through the standard environment, as
// a user's shell would point it.
//
// CODER_URL and CODER_SESSION_TOKEN point at a fake coderd throughout: no
// Coder step is done by hand either. The first apply registers every
// proxy region's workspace proxy and one provisioner key per workspace
// namespace of every region; their tokens are in moto's Secrets Manager,
// work on coderd, are read by the rendered ExternalSecrets, and appear in no
// file of the repository, no output of any CLI run and not in moto's log.
// A converged apply makes no call that changes AWS or coderd.
func TestOnboardingAgainstMoto(t *testing.T) {
	ctx := context.Background()
	moto := motoPool.ForTest(t, motoserver.CommonEnv...) // logs moto's output if the test fails
	endpoint, awsCalls := countingMoto(t, moto.URL)
	awsEnv(t, endpoint)
	coder := startCoderSide(t)
	said := recordCLI(t)

	// a. The example repository and its hosted zone, with records someone
	// else manages.
	repo := exampleCopy(t)
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r53 := route53.NewFromConfig(cfg)
	zone, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String("onboarding-test")})
	if err != nil {
		t.Fatalf("creating the hosted zone in moto: %v", err)
	}
	zoneID := aws.ToString(zone.HostedZone.Id)
	foreign := []r53types.ResourceRecordSet{
		{Name: aws.String("example.com."), Type: r53types.RRTypeMx, TTL: aws.Int64(300),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("10 mx1.mail.example.net.")}, {Value: aws.String("20 mx2.mail.example.net.")}}},
		// A TXT at a name where coderfleet puts its latency A records.
		{Name: aws.String("coder.example.com."), Type: r53types.RRTypeTxt, TTL: aws.Int64(600),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(`"v=spf1 -all"`)}}},
	}
	var changes []r53types.Change
	for i := range foreign {
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: &foreign[i]})
	}
	if _, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID), ChangeBatch: &r53types.ChangeBatch{Changes: changes}}); err != nil {
		t.Fatalf("creating foreign records: %v", err)
	}
	foreignBefore := foreignRecordSets(t, r53, zoneID, foreign)
	if len(foreignBefore) != len(foreign) {
		t.Fatalf("moto lists %d of the %d foreign records", len(foreignBefore), len(foreign))
	}

	// b. Add the region and render it: its Service has no certificate yet.
	code, out, errs := cli(t, "region", "add", "ap-south-1", "--aws-region", "ap-south-1", "--repo", repo)
	if code != exitOK {
		t.Fatalf("region add: exit %d\n%s%s", code, out, errs)
	}
	mustContain(t, "region add", out,
		"wrote overlays/ap-south-1/region.yaml (proxy ap-south-1 in ap-south-1, cluster coderdemo-ap-south-1)",
		"next steps:", "coderfleet sync apply --region ap-south-1")
	code, out, errs = cli(t, "render", "--repo", repo)
	if code != exitOK {
		t.Fatalf("render: exit %d\n%s%s", code, out, errs)
	}
	mustContain(t, "render stderr", errs,
		"warning: region ap-south-1: Service coder-proxy/coder-proxy has no ACM certificate yet; run `coderfleet sync apply --region ap-south-1`")
	for _, p := range []string{"certificates.yaml", "healthchecks.yaml", "records.yaml"} {
		if _, err := os.Stat(filepath.Join(repo, "regions/ap-south-1/aws", p)); err != nil {
			t.Errorf("render wrote no regions/ap-south-1/aws/%s: %v", p, err)
		}
	}

	// c. The plan wants the new region's certificate (among the others: the
	// example fleet's AWS pieces are new to this moto too). No cluster exists
	// yet: the IAM roles wait for them, with what to do next.
	code, out, errs = cli(t, "sync", "plan", "--detailed-exitcode", "--repo", repo)
	if code != exitChanges {
		t.Fatalf("sync plan before apply: exit %d, want %d\n%s%s", code, exitChanges, out, errs)
	}
	mustContain(t, "sync plan", out,
		"+ certificate ap-south-1/proxy",
		"domain:     ap-south-1.coder.example.com",
		"sans:       *.ap-south-1.coder.example.com",
		"aws-region: ap-south-1",
		"+ health-check us-east-2/coder",
		"Waiting for load balancers (not an error):",
		"record ap-south-1.coder.example.com A: no NLB yet for Service coder-proxy/coder-proxy in cluster coderdemo-ap-south-1 (ap-south-1)",
		"+ record example.com: _coderfleet.coderdemo.example.com TXT (registry of the AWS regions the fleet uses)",
		"aws-regions: ap-south-1 eu-west-2 us-east-2 us-west-2",
		"+ secret us-east-2/litellm/workspace-key",
		"value:       (none: sync never writes a value)",
		"Waiting for EKS clusters (not an error):",
		"iam-role ap-south-1/coderdemo-ap-south-1-ebs-csi: no EKS cluster coderdemo-ap-south-1 in ap-south-1 yet; trust policy for ServiceAccount kube-system/ebs-csi-controller-sa (known after apply)",
		"Next: create the cluster and its IAM OIDC provider, then run coderfleet sync apply again",
		"+ workspace-proxy ap-south-1/ap-south-1",
		"+ provisioner-key ap-south-1/coder/ap-south-1-coder-ws",
		"+ provisioner-key us-east-2/demo/us-east-2-coder-ws-demo",
		"Coder workspace proxies:",
		"ap-south-1/ap-south-1: not registered (apply registers it; the token waits in Secrets Manager until the proxy starts)",
		"Plan: 31 to add, 0 to change, 0 to destroy, 6 validation record(s) known after apply to add; 50 waiting, 0 conflicts.")

	// The platform team creates each region's EKS cluster and its IAM OIDC
	// provider before onboarding it (the example fleet's are new to this moto).
	issuers := map[string]string{} // cluster name -> OIDC issuer URL
	for _, c := range fleetClusters(t, repo) {
		issuers[c.name] = createClusterWithProvider(t, ctx, cfg, moto.URL, c)
	}
	if len(issuers) != 4 {
		t.Fatalf("created %d clusters, want one per region (4): %v", len(issuers), issuers)
	}

	// d. The first apply issues the certificates and writes their ARNs,
	// creates every IAM role and the secret; the records wait for their load
	// balancers.
	start := time.Now()
	code, out, errs = cli(t, "sync", "apply", "--auto-approve", "--repo", repo)
	t.Logf("sync apply (certificates) took %s", time.Since(start).Round(time.Millisecond))
	if code != exitOK {
		t.Fatalf("sync apply (certificates): exit %d\n%s%s", code, out, errs)
	}
	// The registry of AWS regions, 5 certificates, 4 health checks, 8
	// secrets (7 for the user's values, key sync's), 39 roles (13 in
	// us-east-2, 10 in each of us-west-2 and ap-south-1, 6 in eu-west-2), 3
	// workspace proxies, 10 provisioner keys (one per workspace namespace of
	// each region) and 6 validation CNAMEs.
	mustContain(t, "sync apply stdout", out,
		"+ iam-role ap-south-1/coderdemo-ap-south-1-ebs-csi",
		"Plan: 70 to add, 0 to change, 0 to destroy, 6 validation record(s) known after apply to add; 11 waiting, 0 conflicts.",
		"Apply complete: 70 added, 0 changed, 0 destroyed, 6 validation record(s) known after apply added.",
		"Wrote overlays/ap-south-1/outputs.yaml: run coderfleet render",
		"no NLB yet for Service coder-proxy/coder-proxy in cluster coderdemo-ap-south-1 (ap-south-1)")
	if strings.Contains(out, "Waiting for EKS clusters") {
		t.Errorf("sync apply (certificates) still waits for the clusters it was given:\n%s", out)
	}
	// What still waits is told once, after applying; the plan before it
	// only counts it.
	if n := strings.Count(out, "Waiting for load balancers (not an error):"); n != 1 ||
		strings.Index(out, "Waiting for load balancers") < strings.Index(out, "Apply complete:") {
		t.Errorf("sync apply (certificates) prints the waiting records %d time(s), want once after \"Apply complete\":\n%s", n, out)
	}
	mustContain(t, "sync apply stderr", errs,
		"create certificate ap-south-1/proxy: done",
		"create iam-role ap-south-1/coderdemo-ap-south-1-secrets-coder-ws: done",
		"create secret us-east-2/litellm/workspace-key: done",
		"create workspace-proxy ap-south-1/ap-south-1: done",
		"create provisioner-key ap-south-1/coder/ap-south-1-coder-ws: done",
		"certificate ap-south-1/proxy is ISSUED: arn:aws:acm:ap-south-1:",
		"wrote overlays/ap-south-1/outputs.yaml")
	if !regexp.MustCompile(`(?m)^create record example\.com: _[0-9a-f]+\.ap-south-1\.coder\.example\.com CNAME: done$`).MatchString(errs) {
		t.Errorf("sync apply made no validation CNAME for ap-south-1:\n%s", errs)
	}
	arns := map[string]string{} // region/name -> ARN
	for _, r := range []string{"us-east-2", "us-west-2", "eu-west-2", "ap-south-1"} {
		o := readOutputs(t, repo, r)
		for name, arn := range o {
			if !regexp.MustCompile(`^arn:aws:acm:` + regexp.QuoteMeta(regionAWS(t, repo, r)) + `:\d{12}:certificate/[0-9a-f-]+$`).MatchString(arn) {
				t.Errorf("overlays/%s/outputs.yaml: %s: %q is not an ACM ARN of the region's AWS region", r, name, arn)
			}
			arns[r+"/"+name] = arn
		}
	}
	for _, want := range []string{"us-east-2/coder", "us-east-2/litellm", "us-west-2/proxy", "eu-west-2/proxy", "ap-south-1/proxy"} {
		if arns[want] == "" {
			t.Errorf("no certificate ARN for %s in overlays/*/outputs.yaml (have %v)", want, arns)
		}
	}
	// The Coder objects are registered, with no cluster yet: their tokens
	// wait in Secrets Manager for the ExternalSecrets of the rendered tree.
	tokens := checkCoderRegistered(t, ctx, cfg, repo, coder)
	checkTokenExternalSecrets(t, repo)
	if t.Failed() {
		t.FailNow()
	}

	// e. Render again: every Service carries its certificate; nothing warns.
	code, out, errs = cli(t, "render", "--repo", repo)
	if code != exitOK {
		t.Fatalf("render after certificates: exit %d\n%s%s", code, out, errs)
	}
	if strings.Contains(errs, "certificate") {
		t.Errorf("render still warns about certificates:\n%s", errs)
	}
	services := loadBalancerServices(t, repo)
	if len(services) != 5 {
		t.Errorf("rendered %d load balancer Services, want 5 (coder, litellm, three proxies): %+v", len(services), services)
	}
	for _, s := range services {
		want := arns[s.region+"/"+certName(s)]
		if s.cert != want || want == "" {
			t.Errorf("%s: ssl-cert annotation %q, want the ARN from overlays/%s/outputs.yaml %q", s.file, s.cert, s.region, want)
		}
	}
	if code, out, errs := cli(t, "check", "--repo", repo); code != exitOK {
		t.Errorf("check after render: exit %d\n%s%s", code, out, errs)
	}

	// f. Flux applies the regions; the AWS Load Balancer Controller makes an
	// NLB for every LoadBalancer Service, tagged with its stack and cluster.
	for _, s := range services {
		createControllerNLB(t, ctx, cfg, moto.URL, s)
	}

	// g. The second apply creates the records; afterwards nothing is left to do
	// and the foreign records are untouched.
	code, out, errs = cli(t, "sync", "apply", "--auto-approve", "--repo", repo)
	if code != exitOK {
		t.Fatalf("sync apply (DNS): exit %d\n%s%s", code, out, errs)
	}
	// 11 A records (5 in us-east-2, 2 in each proxy region).
	mustContain(t, "sync apply (DNS) stdout", out,
		"+ record example.com: ap-south-1.coder.example.com A",
		"Plan: 11 to add, 0 to change, 0 to destroy; 0 waiting, 0 conflicts.",
		"Apply complete: 11 added, 0 changed, 0 destroyed.")
	mustContain(t, "sync apply (DNS) stderr", errs,
		"create record example.com: ap-south-1.coder.example.com A: done",
		"create record example.com: *.ap-south-1.coder.example.com A: done",
		"create record example.com: coder.example.com A [us-east-2]: done",
		"create record example.com: llm.coder.example.com A: done")
	if strings.Contains(out, "Waiting for load balancers") || strings.Contains(out, "certificate") {
		t.Errorf("sync apply (DNS) still waits or touches certificates:\n%s", out)
	}
	code, out, errs = cli(t, "sync", "plan", "--detailed-exitcode", "--repo", repo)
	if code != exitOK {
		t.Errorf("sync plan after the DNS apply: exit %d, want 0\n%s%s", code, out, errs)
	}
	mustContain(t, "final sync plan", out, "No changes.")
	// An outputs.yaml without an issued certificate's ARN is work for the
	// next apply: plan says so in its notes, its summary and its exit code.
	westOutputs := filepath.Join(repo, "overlays", "us-west-2", "outputs.yaml")
	issued, err := os.ReadFile(westOutputs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(westOutputs, []byte("# Generated by coderfleet sync. DO NOT EDIT.\napiVersion: coderfleet.io/v1alpha1\nkind: Outputs\ncertificates: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = cli(t, "sync", "plan", "--detailed-exitcode", "--repo", repo)
	if code != exitChanges {
		t.Errorf("sync plan with a stale outputs.yaml: exit %d, want %d\n%s%s", code, exitChanges, out, errs)
	}
	mustContain(t, "sync plan (stale outputs.yaml)", out,
		"overlays/us-west-2/outputs.yaml lacks the ARN of issued certificate(s) proxy ("+arns["us-west-2/proxy"]+"); sync apply writes it",
		"Plan: 0 to add, 0 to change, 0 to destroy, 1 outputs file(s) to write; 0 waiting, 0 conflicts.")
	if code, out, errs = cli(t, "sync", "apply", "--auto-approve", "--repo", repo); code != exitOK {
		t.Fatalf("sync apply (outputs.yaml): exit %d\n%s%s", code, out, errs)
	}
	if again, _ := os.ReadFile(westOutputs); string(again) != string(issued) {
		t.Errorf("sync apply wrote overlays/us-west-2/outputs.yaml as\n%s\nwant\n%s", again, issued)
	}
	if code, out, errs = cli(t, "sync", "plan", "--detailed-exitcode", "--repo", repo); code != exitOK {
		t.Errorf("sync plan after rewriting outputs.yaml: exit %d, want 0\n%s%s", code, out, errs)
	}
	// The proxies registered with their stored tokens (checkCoderRegistered).
	mustContain(t, "sync plan (converged)", out, "Coder workspace proxies:",
		"ap-south-1/ap-south-1: registered, coderd reports ok", "eu-west-2/eu-west-2: registered, coderd reports ok")
	// A converged apply, in JSON too, changes nothing in AWS or coderd.
	awsBefore, coderBefore := awsCalls.Mutating(), len(coder.fake.MutatingRequests())
	if code, out, errs = cli(t, "sync", "apply", "--auto-approve", "-o", "json", "--repo", repo); code != exitOK {
		t.Fatalf("sync apply (converged): exit %d\n%s%s", code, out, errs)
	}
	if n := awsCalls.Mutating() - awsBefore; n != 0 {
		t.Errorf("a converged sync apply made %d AWS calls that change something (calls so far: %v)", n, awsCalls.Calls())
	}
	if n := len(coder.fake.MutatingRequests()) - coderBefore; n != 0 {
		t.Errorf("a converged sync apply made %d changing requests to coderd: %v", n, coder.fake.MutatingRequests()[coderBefore:])
	}
	alias := recordSet(t, r53, zoneID, "ap-south-1.coder.example.com.", r53types.RRTypeA)
	if alias == nil || alias.AliasTarget == nil || !strings.Contains(aws.ToString(alias.AliasTarget.DNSName), "ap-south-1") {
		t.Errorf("ap-south-1.coder.example.com A does not alias the ap-south-1 NLB: %+v", alias)
	}
	foreignAfter := foreignRecordSets(t, r53, zoneID, foreign)
	if b, a := mustJSON(t, foreignBefore), mustJSON(t, foreignAfter); b != a {
		t.Errorf("foreign records changed:\nbefore %s\nafter  %s", b, a)
	}
	if code, out, errs := cli(t, "check", "--repo", repo); code != exitOK {
		t.Errorf("check at the end: exit %d\n%s%s", code, out, errs)
	}
	// No IAM step by hand: every ServiceAccount's role (39, as applied) trusts
	// exactly it, and every secret of secrets.yaml exists, empty.
	checkIRSA(t, ctx, cfg, repo, issuers, 39)
	if t.Failed() {
		t.FailNow()
	}
	decommission(t, repo, r53, zoneID, foreign, foreignBefore, coder)
	checkNoTokens(t, tokens, repo, map[string]string{"the output of the CLI runs": said.String(), "moto's log": moto.Log()})
}

// decommission walks DESIGN.md's decommissioning through the CLI: git rm -r
// overlays/eu-west-2 -> render -> sync plan lists what the region left in
// AWS (its certificate in an AWS region no folder names any more, its
// records, health check and IAM roles, its workspace proxy and provisioner
// key in coderd and their token secrets) -> sync apply --prune deletes
// exactly that, and nothing foreign; without --prune all of it stays.
func decommission(t *testing.T, repo string, r53 *route53.Client, zoneID string, foreign, foreignBefore []r53types.ResourceRecordSet, coder *coderSide) {
	ctx := context.Background()
	euCert := readOutputs(t, repo, "eu-west-2")["proxy"]
	var euTokens []tokenSecret
	for _, w := range renderedTokenSecrets(t, repo) {
		if w.region == "eu-west-2" {
			euTokens = append(euTokens, w)
		}
	}
	if len(euTokens) != 2 {
		t.Fatalf("eu-west-2 lists %d token secrets, want its proxy's and its key's: %+v", len(euTokens), euTokens)
	}
	if err := os.RemoveAll(filepath.Join(repo, "overlays", "eu-west-2")); err != nil {
		t.Fatal(err)
	}
	// Before the render, sync refuses the stale regions/eu-west-2.
	code, out, errs := cli(t, "sync", "plan", "--repo", repo)
	if code != exitInput {
		t.Fatalf("sync plan with a stale regions/eu-west-2: exit %d, want %d\n%s%s", code, exitInput, out, errs)
	}
	mustContain(t, "sync plan (stale folder) stderr", errs, "overlays/eu-west-2/region.yaml", "(hint: run coderfleet render without --region")
	if code, out, errs := cli(t, "render", "--repo", repo); code != exitOK {
		t.Fatalf("render after removing overlays/eu-west-2: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(repo, "regions", "eu-west-2")); !os.IsNotExist(err) {
		t.Fatalf("render left regions/eu-west-2: %v", err)
	}
	orphans := []string{
		"certificate eu-west-2/proxy (" + euCert + ")",
		"health check eu-west-2/proxy (",
		"record example.com: eu-west-2.coder.example.com A is owned by region eu-west-2",
		"record example.com: *.eu-west-2.coder.example.com A is owned by region eu-west-2",
		"IAM role eu-west-2/coderdemo-euw2-ebs-csi is an orphan: its region folder regions/eu-west-2 no longer exists; kept (use --prune to delete it)",
		"its region folder regions/eu-west-2 no longer exists",
		"workspace-proxy eu-west-2/eu-west-2 and its token secret coderdemo/eu-west-2/coder-proxy/coder-proxy (eu-west-2) are an orphan: its region folder regions/eu-west-2 no longer exists; kept (use --prune to delete them)",
		"provisioner-key eu-west-2/coder/eu-west-2-coder-ws and its token secret coderdemo/eu-west-2/coder-ws/psk (eu-west-2) are an orphan",
	}
	code, out, errs = cli(t, "sync", "plan", "--detailed-exitcode", "--repo", repo)
	if code != exitOK {
		t.Errorf("sync plan without --prune after decommissioning: exit %d, want 0 (apply would change nothing)\n%s%s", code, out, errs)
	}
	mustContain(t, "sync plan (orphans)", out, append(orphans, "Notes:",
		"No changes. The desired state is in place; 0 waiting, 0 conflicts; 13 owned object(s) outside it kept (see Notes; --prune deletes them).")...)
	code, out, errs = cli(t, "sync", "plan", "--prune", "--detailed-exitcode", "--region", "us-west-2", "--repo", repo)
	if code != exitOK || strings.Contains(out, "eu-west-2") {
		t.Errorf("sync plan --prune --region us-west-2 touches eu-west-2: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = cli(t, "sync", "plan", "--prune", "--detailed-exitcode", "--repo", repo)
	if code != exitChanges {
		t.Errorf("sync plan --prune: exit %d, want %d\n%s%s", code, exitChanges, out, errs)
	}
	mustContain(t, "sync plan --prune", out,
		"- certificate eu-west-2/proxy (an orphan: its region folder regions/eu-west-2 no longer exists)",
		"- health-check eu-west-2/proxy (",
		"- record example.com: eu-west-2.coder.example.com A (an orphan",
		"- record example.com: *.eu-west-2.coder.example.com A (an orphan",
		".eu-west-2.coder.example.com CNAME (an orphan",
		"- iam-role eu-west-2/coderdemo-euw2-aws-load-balancer-controller (an orphan: its region folder regions/eu-west-2 no longer exists)",
		"- iam-role eu-west-2/coderdemo-euw2-ebs-csi (an orphan",
		"- iam-role eu-west-2/coderdemo-euw2-karpenter (an orphan",
		"- iam-role eu-west-2/coderdemo-euw2-provisioner-coder-ws (an orphan",
		"- iam-role eu-west-2/coderdemo-euw2-secrets-coder-proxy (an orphan",
		"- iam-role eu-west-2/coderdemo-euw2-secrets-coder-ws (an orphan",
		"- workspace-proxy eu-west-2/eu-west-2 (an orphan: its region folder regions/eu-west-2 no longer exists; its token secret is recoverable for 30 days)",
		"token-secret: coderdemo/eu-west-2/coder-proxy/coder-proxy (eu-west-2)",
		"- provisioner-key eu-west-2/coder/eu-west-2-coder-ws (an orphan",
		"Plan: 0 to add, 0 to change, 13 to destroy; 0 waiting, 0 conflicts.")
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	euRoles := []string{"coderdemo-euw2-aws-load-balancer-controller", "coderdemo-euw2-ebs-csi", "coderdemo-euw2-karpenter",
		"coderdemo-euw2-provisioner-coder-ws", "coderdemo-euw2-secrets-coder-proxy", "coderdemo-euw2-secrets-coder-ws"}
	for _, name := range euRoles { // kept until --prune
		if _, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)}); err != nil {
			t.Errorf("role %s of the removed region is gone before --prune: %v", name, err)
		}
	}
	euCoder := func() (proxy, key bool) {
		for _, p := range coder.fake.Proxies() {
			proxy = proxy || p.Name == "eu-west-2"
		}
		for _, k := range coder.fake.ProvisionerKeys("coder") {
			key = key || k.Name == "eu-west-2-coder-ws"
		}
		return proxy, key
	}
	if proxy, key := euCoder(); !proxy || !key {
		t.Errorf("before --prune, coderd lost the removed region's proxy (%t) or key (%t)", !proxy, !key)
	}
	checkTokenSecretsDeleted(t, ctx, cfg, euTokens, false)
	code, out, errs = cli(t, "sync", "apply", "--auto-approve", "--prune", "--repo", repo)
	if code != exitOK {
		t.Fatalf("sync apply --prune: exit %d\n%s%s", code, out, errs)
	}
	mustContain(t, "sync apply --prune", out, "Apply complete: 0 added, 0 changed, 13 destroyed.")
	code, out, errs = cli(t, "sync", "plan", "--prune", "--detailed-exitcode", "--repo", repo)
	if code != exitOK {
		t.Errorf("sync plan --prune after the prune: exit %d, want 0\n%s%s", code, out, errs)
	}
	mustContain(t, "sync plan after the prune", out, "No changes. AWS matches the desired state; 0 waiting, 0 conflicts.")
	if rr := recordSet(t, r53, zoneID, "eu-west-2.coder.example.com.", r53types.RRTypeA); rr != nil {
		t.Errorf("eu-west-2.coder.example.com A left after the prune: %+v", rr)
	}
	if proxy, key := euCoder(); proxy || key {
		t.Errorf("after --prune, coderd still has the removed region's proxy (%t) or key (%t)", proxy, key)
	}
	if n := len(coder.fake.Proxies()); n != 2 {
		t.Errorf("after --prune, coderd has %d workspace proxies, want the other 2: %+v", n, coder.fake.Proxies())
	}
	checkTokenSecretsDeleted(t, ctx, cfg, euTokens, true)
	for _, name := range euRoles {
		var nse *iamtypes.NoSuchEntityException
		if _, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)}); !errors.As(err, &nse) {
			t.Errorf("role %s of the removed region after --prune: %v, want NoSuchEntity", name, err)
		}
	}
	certs, err := acm.NewFromConfig(cfg, func(o *acm.Options) { o.Region = "eu-west-2" }).ListCertificates(ctx, &acm.ListCertificatesInput{})
	if err != nil || len(certs.CertificateSummaryList) != 0 {
		t.Errorf("certificates left in eu-west-2 after the prune: %v %+v", err, certs)
	}
	if b, a := mustJSON(t, foreignBefore), mustJSON(t, foreignRecordSets(t, r53, zoneID, foreign)); b != a {
		t.Errorf("foreign records changed by the prune:\nbefore %s\nafter  %s", b, a)
	}
	if code, out, errs := cli(t, "check", "--repo", repo); code != exitOK {
		t.Errorf("check after decommissioning: exit %d\n%s%s", code, out, errs)
	}
}

// awsEnv points the AWS SDK's default chain at url with fake credentials and
// nothing from the machine's own AWS configuration.
func awsEnv(t *testing.T, url string) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL":            url,
		"AWS_ACCESS_KEY_ID":           "AKIDONBOARDING",
		"AWS_SECRET_ACCESS_KEY":       "secret",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "us-east-1",
		"AWS_DEFAULT_REGION":          "",
		"AWS_PROFILE":                 "",
		"AWS_CA_BUNDLE":               "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

// foreignRecordSets lists the zone's record sets with the names and types of want.
func foreignRecordSets(t *testing.T, api *route53.Client, zoneID string, want []r53types.ResourceRecordSet) []r53types.ResourceRecordSet {
	t.Helper()
	var out []r53types.ResourceRecordSet
	for _, w := range want {
		if rr := recordSet(t, api, zoneID, aws.ToString(w.Name), w.Type); rr != nil {
			out = append(out, *rr)
		}
	}
	return out
}

// recordSet returns the record set of name and type in the zone, or nil.
func recordSet(t *testing.T, api *route53.Client, zoneID, name string, typ r53types.RRType) *r53types.ResourceRecordSet {
	t.Helper()
	p := route53.NewListResourceRecordSetsPaginator(api, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("listing records of %s: %v", zoneID, err)
		}
		for _, rr := range page.ResourceRecordSets {
			if aws.ToString(rr.Name) == name && rr.Type == typ {
				return &rr
			}
		}
	}
	return nil
}

// lbService is a rendered Service of type LoadBalancer and where it runs.
type lbService struct {
	file, region, awsRegion, cluster, namespace, name, cert string
}

// loadBalancerServices reads every rendered Service of type LoadBalancer,
// with its region's AWS region and cluster from overlays/<r>/region.yaml.
func loadBalancerServices(t *testing.T, repo string) []lbService {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repo, "regions", "*", "*", "service-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	clusters := map[string]fleetCluster{}
	for _, c := range fleetClusters(t, repo) {
		clusters[c.region] = c
	}
	var out []lbService
	for _, f := range files {
		var svc struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name        string            `json:"name"`
				Namespace   string            `json:"namespace"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				Type string `json:"type"`
			} `json:"spec"`
		}
		readYAML(t, f, &svc)
		if svc.Kind != "Service" || svc.Spec.Type != "LoadBalancer" {
			continue
		}
		rel, _ := filepath.Rel(repo, f)
		region := strings.Split(filepath.ToSlash(rel), "/")[1]
		c := clusters[region]
		out = append(out, lbService{file: filepath.ToSlash(rel), region: region, awsRegion: c.awsRegion, cluster: c.name,
			namespace: svc.Metadata.Namespace, name: svc.Metadata.Name,
			cert: svc.Metadata.Annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"]})
	}
	return out
}

// certName is the certificate a Service uses, as named in outputs.yaml.
func certName(s lbService) string {
	switch s.namespace + "/" + s.name {
	case "coder/coder":
		return "coder"
	case "litellm/litellm":
		return "litellm"
	case "coder-proxy/coder-proxy":
		return "proxy"
	}
	return "unknown Service " + s.namespace + "/" + s.name
}

// regionAWS is the AWS region of region r from its region.yaml.
func regionAWS(t *testing.T, repo, r string) string {
	t.Helper()
	var v struct {
		AWSRegion string `json:"awsRegion"`
	}
	readYAML(t, filepath.Join(repo, "overlays", r, "region.yaml"), &v)
	return v.AWSRegion
}

// readOutputs reads the certificate ARNs of overlays/<r>/outputs.yaml.
func readOutputs(t *testing.T, repo, r string) map[string]string {
	t.Helper()
	var o struct {
		Kind         string            `json:"kind"`
		Certificates map[string]string `json:"certificates"`
	}
	readYAML(t, filepath.Join(repo, "overlays", r, "outputs.yaml"), &o)
	if o.Kind != "Outputs" {
		t.Errorf("overlays/%s/outputs.yaml: kind %q, want Outputs", r, o.Kind)
	}
	return o.Certificates
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%q: %v", path, err)
	}
}

// createControllerNLB creates the NLB the AWS Load Balancer Controller would
// make for s: type network, in the cluster's AWS region, with the
// controller's stack and cluster tags.
func createControllerNLB(t *testing.T, ctx context.Context, cfg aws.Config, url string, s lbService) {
	t.Helper()
	c := elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.Region = s.awsRegion })
	out, err := c.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
		Name:    aws.String(fmt.Sprintf("k8s-%.8s-%.8s-%s", s.namespace, s.name, strings.ReplaceAll(s.awsRegion, "-", ""))),
		Type:    elbtypes.LoadBalancerTypeEnumNetwork,
		Scheme:  elbtypes.LoadBalancerSchemeEnumInternetFacing,
		Subnets: []string{motoDefaultSubnet(t, url, s.awsRegion)},
		Tags: []elbtypes.Tag{
			{Key: aws.String("service.k8s.aws/stack"), Value: aws.String(s.namespace + "/" + s.name)},
			{Key: aws.String("elbv2.k8s.aws/cluster"), Value: aws.String(s.cluster)},
			{Key: aws.String("service.k8s.aws/resource"), Value: aws.String("LoadBalancer")},
		},
	})
	if err != nil {
		t.Fatalf("creating the NLB of %s/%s in %s: %v", s.namespace, s.name, s.awsRegion, err)
	}
	if len(out.LoadBalancers) != 1 || !strings.Contains(aws.ToString(out.LoadBalancers[0].DNSName), s.awsRegion) {
		t.Fatalf("moto made an unexpected NLB for %s/%s: %+v", s.namespace, s.name, out.LoadBalancers)
	}
}

// motoDefaultSubnet returns a default subnet of awsRegion in the moto at url.
func motoDefaultSubnet(t *testing.T, url, awsRegion string) string {
	t.Helper()
	id, err := (&motoserver.Server{URL: url}).DefaultSubnet(awsRegion)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
