package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/coderfleet/coderfleet/awsstate"
)

// extraPolicyARN is a customer managed policy the tests create in moto
// (moto 5 does not load AWS managed policies by default).
const extraPolicyARN = "arn:aws:iam::123456789012:policy/demo-extra"

// iamFiles returns the roles.yaml and secrets.yaml of a region of the
// example fleet: a key-sync role and secret everywhere, a LiteLLM role with
// a managed policy in the primary region.
func iamFiles(in regionInput) (roles, secrets awsstate.File) {
	secretName := "demo/" + in.Region + "/key-sync"
	secretARN := "arn:aws:secretsmanager:" + in.AWSRegion + ":123456789012:secret:" + secretName + "-*"
	rs := []awsstate.Role{{
		Name: in.ClusterName + "-key-sync", Path: rolePath("demo"), Description: "key sync reads its secret",
		ServiceAccount: awsstate.ServiceAccountRef{Namespace: "coder", Name: "key-sync"},
		Cluster:        awsstate.ClusterRef{Name: in.ClusterName, AWSRegion: in.AWSRegion},
		InlinePolicies: []awsstate.InlinePolicy{{Name: "secret", Document: awsstate.PolicyDocument{Version: "2012-10-17", Statement: []awsstate.Statement{{
			Effect: "Allow", Action: []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}, Resource: []string{secretARN},
		}}}}},
		Tags: awsstate.OwnedTags("demo", in.Region, in.ClusterName+"-key-sync"),
	}}
	if in.Role == rolePrimary {
		rs = append(rs, awsstate.Role{
			Name: in.ClusterName + "-litellm", Path: rolePath("demo"),
			ServiceAccount:  awsstate.ServiceAccountRef{Namespace: "litellm", Name: "litellm"},
			Cluster:         awsstate.ClusterRef{Name: in.ClusterName, AWSRegion: in.AWSRegion},
			ManagedPolicies: []string{extraPolicyARN},
			InlinePolicies: []awsstate.InlinePolicy{{Name: "bedrock", Document: awsstate.PolicyDocument{Version: "2012-10-17", Statement: []awsstate.Statement{{
				Effect: "Allow", Action: []string{"bedrock:InvokeModel"}, Resource: []string{"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2"},
			}}}}},
			Tags: awsstate.OwnedTags("demo", in.Region, in.ClusterName+"-litellm"),
		})
	}
	roles = awsstate.File{Kind: awsstate.KindRoleList, Fleet: "demo", Region: in.Region, Roles: rs}
	secrets = awsstate.File{Kind: awsstate.KindSecretList, Fleet: "demo", Region: in.Region, Secrets: []awsstate.Secret{{
		Name: secretName, AWSRegion: in.AWSRegion, Description: "written by coderfleet key rotation",
		Tags: awsstate.OwnedTags("demo", in.Region, "key-sync"),
	}}}
	return roles, secrets
}

// iamRepo is the example fleet's repository with roles.yaml and secrets.yaml.
func iamRepo(t *testing.T) *repo {
	t.Helper()
	r := newRepo(t, exampleFleet()...)
	for _, in := range exampleFleet() {
		roles, secrets := iamFiles(in)
		for name, f := range map[string]awsstate.File{awsstate.RolesFile: roles, awsstate.SecretsFile: secrets} {
			b, err := awsstate.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			r.fs["regions/"+in.Region+"/aws/"+name] = &fstest.MapFile{Data: b}
		}
	}
	return r
}

// iamEnv is motoEnv with the NLBs, the managed policy and, when clusters
// is set, the example fleet's EKS clusters with their IAM OIDC providers
// (providers false: clusters without providers). It returns uncounted
// IAM and EKS clients for the test's own calls.
type iamSetup struct {
	*env
	iam *iam.Client
}

func newIAMEnv(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper, clusters, providers bool) *iamSetup {
	t.Helper()
	e := motoEnv(t, wrap)
	createExampleNLBs(t, e.url)
	cfg := awsConfig(e.url, http.DefaultTransport)
	s := &iamSetup{env: e, iam: iam.NewFromConfig(cfg)}
	ctx := context.Background()
	if _, err := s.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("demo-extra"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::demo"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if clusters {
		for _, in := range exampleFleet() {
			s.createCluster(t, in.AWSRegion, in.ClusterName, providers)
		}
	}
	return s
}

// createCluster makes an EKS cluster in moto and, with provider, the IAM
// OIDC provider of its issuer; it returns the issuer URL.
func (s *iamSetup) createCluster(t *testing.T, awsRegion, name string, provider bool) string {
	t.Helper()
	return createEKSCluster(t, s.url, awsRegion, name, provider)
}

// createEKSCluster makes an EKS cluster in the moto at url and, with
// provider, the IAM OIDC provider of its issuer; it returns the issuer URL.
func createEKSCluster(t *testing.T, url, awsRegion, name string, provider bool) string {
	t.Helper()
	cfg := awsConfig(url, http.DefaultTransport)
	c := eks.NewFromConfig(cfg, func(o *eks.Options) { o.Region = awsRegion })
	out, err := c.CreateCluster(context.Background(), &eks.CreateClusterInput{Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::123456789012:role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{defaultSubnet(t, url, awsRegion)}}})
	if err != nil {
		t.Fatalf("creating EKS cluster in moto: %v", err)
	}
	issuer := aws.ToString(out.Cluster.Identity.Oidc.Issuer)
	if provider {
		if _, err := iam.NewFromConfig(cfg).CreateOpenIDConnectProvider(context.Background(), &iam.CreateOpenIDConnectProviderInput{Url: aws.String(issuer),
			ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"}}); err != nil {
			t.Fatal(err)
		}
	}
	return issuer
}

// roleSnapshot serialises everything IAM holds about a role (nil: absent).
func (s *iamSetup) roleSnapshot(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	gr, err := s.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if errorCode(err) == "NoSuchEntity" {
		return "absent"
	}
	if err != nil {
		t.Fatal(err)
	}
	parts := []any{gr.Role}
	lp, err := s.iam.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lp.PolicyNames {
		gp, err := s.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(p)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p, aws.ToString(gp.PolicyDocument))
	}
	la, err := s.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	parts = append(parts, la.AttachedPolicies)
	b, err := json.Marshal(parts)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// createForeignRole makes a role coderfleet does not own, with an inline
// and a managed policy.
func (s *iamSetup) createForeignRole(t *testing.T, name, path string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), Path: aws.String(path),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
		Tags:                     []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("mine"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::mine/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(extraPolicyARN)}); err != nil {
		t.Fatal(err)
	}
}

func (s *iamSetup) secrets(t *testing.T, awsRegion string) []smtypes.SecretListEntry {
	t.Helper()
	c := secretsmanager.NewFromConfig(awsConfig(s.url, http.DefaultTransport), func(o *secretsmanager.Options) { o.Region = awsRegion })
	out, err := c.ListSecrets(context.Background(), &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.SecretList
}

// TestIAMOnboardingAgainstMoto: the first apply creates every role with the
// exact trust policy, its policies and tags, and every secret without a
// value; a second apply makes no mutating call; a foreign role under the
// fleet's path and one elsewhere are byte-identical afterwards.
func TestIAMOnboardingAgainstMoto(t *testing.T) {
	s := newIAMEnv(t, nil, true, true)
	s.createForeignRole(t, "handmade", rolePath("demo"))
	s.createForeignRole(t, "team-ci", "/")
	before := s.roleSnapshot(t, "handmade") + s.roleSnapshot(t, "team-ci")
	r := iamRepo(t)
	opts := s.options(r, &realShortClock{*newFakeClock()})

	p, err := PlanChanges(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := WritePlan(&text, p, FormatText); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"+ iam-role us-east-2/coder-us-east-2-litellm\n",
		"      trust:\n        + {\n",
		`+       "Action": "sts:AssumeRoleWithWebIdentity",`,
		`"system:serviceaccount:litellm:litellm"`,
		"+ secret eu-west-2/demo/eu-west-2/key-sync\n",
		"value:       (none: sync never writes a value)",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, text.String())
		}
	}

	res, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if !res.Final.Converged() {
		t.Fatalf("not converged after apply: %+v", res.Final)
	}
	ctx := context.Background()
	providers, err := s.iam.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range exampleFleet() {
		roles, secrets := iamFiles(in)
		cl, err := eks.NewFromConfig(awsConfig(s.url, http.DefaultTransport), func(o *eks.Options) { o.Region = in.AWSRegion }).
			DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(in.ClusterName)})
		if err != nil {
			t.Fatal(err)
		}
		issuer := strings.TrimPrefix(aws.ToString(cl.Cluster.Identity.Oidc.Issuer), "https://")
		provider := ""
		for _, pr := range providers.OpenIDConnectProviderList {
			if strings.HasSuffix(aws.ToString(pr.Arn), "/"+issuer) {
				provider = aws.ToString(pr.Arn)
			}
		}
		for _, want := range roles.Roles {
			gr, err := s.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(want.Name)})
			if err != nil {
				t.Fatalf("role %s: %v", want.Name, err)
			}
			if got := aws.ToString(gr.Role.Arn); got != want.ARN("aws", "123456789012") {
				t.Errorf("role ARN %s, want %s", got, want.ARN("aws", "123456789012"))
			}
			doc, _ := url.QueryUnescape(aws.ToString(gr.Role.AssumeRolePolicyDocument))
			var trust struct {
				Statement []struct {
					Effect    string
					Principal struct{ Federated string }
					Action    string
					Condition map[string]map[string]string
				}
			}
			if err := json.Unmarshal([]byte(doc), &trust); err != nil || len(trust.Statement) != 1 {
				t.Fatalf("trust of %s: %v %s", want.Name, err, doc)
			}
			st := trust.Statement[0]
			wantCond := map[string]string{issuer + ":sub": want.ServiceAccount.Subject(), issuer + ":aud": "sts.amazonaws.com"}
			if st.Effect != "Allow" || st.Principal.Federated != provider || provider == "" || st.Action != "sts:AssumeRoleWithWebIdentity" ||
				len(st.Condition) != 1 || len(st.Condition["StringEquals"]) != 2 ||
				st.Condition["StringEquals"][issuer+":sub"] != wantCond[issuer+":sub"] || st.Condition["StringEquals"][issuer+":aud"] != "sts.amazonaws.com" {
				t.Errorf("trust of %s = %s, want provider %s and exactly %v", want.Name, doc, provider, wantCond)
			}
			tags := map[string]string{}
			for _, tg := range gr.Role.Tags {
				tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			if !equalTags(tags, want.Tags) {
				t.Errorf("tags of %s = %v, want %v", want.Name, tags, want.Tags)
			}
			gp, err := s.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(want.Name), PolicyName: aws.String(want.InlinePolicies[0].Name)})
			if err != nil {
				t.Fatalf("inline policy of %s: %v", want.Name, err)
			}
			if !samePolicy(decodePolicy(aws.ToString(gp.PolicyDocument)), policyJSON(want.InlinePolicies[0].Document)) {
				t.Errorf("inline policy of %s = %s", want.Name, aws.ToString(gp.PolicyDocument))
			}
			la, err := s.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(want.Name)})
			if err != nil || len(la.AttachedPolicies) != len(want.ManagedPolicies) {
				t.Errorf("managed policies of %s: %v %+v, want %v", want.Name, err, la, want.ManagedPolicies)
			}
		}
		for _, want := range secrets.Secrets {
			found := false
			for _, got := range s.secrets(t, want.AWSRegion) {
				if aws.ToString(got.Name) != want.Name {
					continue
				}
				found = true
				if len(got.SecretVersionsToStages) != 0 {
					t.Errorf("secret %s has versions %v: sync must not write a value", want.Name, got.SecretVersionsToStages)
				}
				if aws.ToString(got.Description) != want.Description || len(got.Tags) != len(want.Tags) {
					t.Errorf("secret %s: description %q, tags %v", want.Name, aws.ToString(got.Description), got.Tags)
				}
			}
			if !found {
				t.Errorf("secret %s not created in %s", want.Name, want.AWSRegion)
			}
		}
	}
	for _, op := range []string{"GetSecretValue", "PutSecretValue", "BatchGetSecretValue"} {
		if n := s.counter.Count(op); n != 0 {
			t.Errorf("%d %s calls: sync never reads or writes a value", n, op)
		}
	}

	before2 := s.mutating()
	res, err = Apply(context.Background(), opts)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if n := s.mutating() - before2; n != 0 || len(res.Applied) != 0 {
		t.Errorf("second apply made %d mutating calls, applied %d changes", n, len(res.Applied))
	}
	if after := s.roleSnapshot(t, "handmade") + s.roleSnapshot(t, "team-ci"); after != before {
		t.Errorf("foreign roles changed:\n%s\n---\n%s", before, after)
	}
}

// TestIAMForeignRoleAndSecretAreConflicts: a role and a secret with the
// names of desired ones but without the fleet's tags are conflicts, never
// modified; the rest is applied, then apply fails listing them.
func TestIAMForeignRoleAndSecretAreConflicts(t *testing.T) {
	s := newIAMEnv(t, nil, true, true)
	s.createForeignRole(t, "coder-us-west-2-key-sync", rolePath("demo"))
	before := s.roleSnapshot(t, "coder-us-west-2-key-sync")
	sm := secretsmanager.NewFromConfig(awsConfig(s.url, http.DefaultTransport), func(o *secretsmanager.Options) { o.Region = "eu-west-2" })
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("demo/eu-west-2/key-sync"), SecretString: aws.String("theirs")}); err != nil {
		t.Fatal(err)
	}
	opts := s.options(iamRepo(t), &realShortClock{*newFakeClock()})
	p, err := PlanChanges(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status() != StatusConflicts || len(p.Conflicts) != 2 {
		t.Fatalf("status %s, conflicts %+v", p.Status(), p.Conflicts)
	}
	var out bytes.Buffer
	_ = WritePlan(&out, p, FormatJSON)
	for _, want := range []string{`"address": "us-west-2/iam-role/coder-us-west-2-key-sync"`, `"address": "eu-west-2/secret/demo/eu-west-2/key-sync"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("JSON plan lacks %s:\n%s", want, out.String())
		}
	}
	_, err = Apply(context.Background(), opts)
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 2 || !strings.Contains(err.Error(), "iam-role us-west-2/coder-us-west-2-key-sync: an IAM role of this name exists without the tag coderfleet.io/fleet=demo") {
		t.Fatalf("apply: %v", err)
	}
	if after := s.roleSnapshot(t, "coder-us-west-2-key-sync"); after != before {
		t.Errorf("foreign role changed:\n%s\n---\n%s", before, after)
	}
	for _, sec := range s.secrets(t, "eu-west-2") {
		if len(sec.Tags) != 0 {
			t.Errorf("foreign secret tagged: %v", sec.Tags)
		}
	}
	if got := s.roleSnapshot(t, "coder-us-east-2-litellm"); got == "absent" {
		t.Error("the roles without conflict were not created")
	}
}

// TestIAMRolesWaitForTheirCluster: without the EKS clusters the roles
// wait, their trust policy known after apply, and the plan is "waiting"
// once everything else is made; once the clusters exist they are created.
func TestIAMRolesWaitForTheirCluster(t *testing.T) {
	s := newIAMEnv(t, nil, false, false)
	opts := s.options(iamRepo(t), &realShortClock{*newFakeClock()})
	res, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if res.Final.Status() != StatusWaiting || len(res.Final.Waiting) != 4 {
		t.Fatalf("status %s, waiting %+v", res.Final.Status(), res.Final.Waiting)
	}
	var text bytes.Buffer
	_ = WritePlan(&text, res.Final, FormatText)
	for _, want := range []string{
		"… iam-role us-east-2/coder-us-east-2-litellm: no EKS cluster coder-us-east-2 in us-east-2 yet; trust policy for ServiceAccount litellm/litellm (known after apply)",
		"Nothing to apply now; IAM roles wait for their EKS clusters; 4 waiting, 0 conflicts.",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, text.String())
		}
	}
	for _, in := range exampleFleet() {
		s.createCluster(t, in.AWSRegion, in.ClusterName, true)
	}
	p, err := PlanChanges(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if add, _, _ := p.Counts(); add != 4 || len(p.Waiting) != 0 {
		t.Errorf("after the clusters: %d to add, waiting %+v; want the 4 roles", add, p.Waiting)
	}
}

// TestIAMMissingOIDCProviderIsAnError: a cluster without its IAM OIDC
// provider stops the plan with the command that creates it, and names the
// --region that lets the other regions go on; a run limited to them does
// not read that cluster (here it stops at the next one, none left after).
func TestIAMMissingOIDCProviderIsAnError(t *testing.T) {
	s := newIAMEnv(t, nil, true, false)
	r := iamRepo(t)
	opts := s.options(r, newFakeClock())
	_, err := PlanChanges(context.Background(), opts)
	var oe *OIDCProviderError
	if !errors.As(err, &oe) {
		t.Fatalf("want *OIDCProviderError, got %v", err)
	}
	if !strings.Contains(err.Error(), "EKS cluster coder-eu-west-2 (eu-west-2) has no IAM OIDC provider") ||
		!strings.Contains(err.Error(), "(hint: create it with eksctl utils associate-iam-oidc-provider --cluster coder-eu-west-2 --region eu-west-2 --approve, then run coderfleet sync again; meanwhile the other regions can go on: run it with --region us-east-2,us-west-2)") {
		t.Errorf("message: %v", err)
	}

	opts.Regions = oe.Others
	_, err = PlanChanges(context.Background(), opts)
	if !errors.As(err, &oe) || oe.Cluster != "coder-us-east-2" ||
		!strings.HasSuffix(err.Error(), "then run coderfleet sync again; meanwhile the other regions can go on: run it with --region us-west-2)") {
		t.Errorf("with --region us-east-2,us-west-2: want the error of cluster coder-us-east-2 naming --region us-west-2, got %v", err)
	}

	opts.Regions = []string{"eu-west-2"}
	_, err = PlanChanges(context.Background(), opts)
	if !errors.As(err, &oe) || strings.Contains(err.Error(), "meanwhile") {
		t.Errorf("with --region eu-west-2 alone: want the error without other regions, got %v", err)
	}
}

// TestIAMRemovedRegionPrunedOnlyWithPrune: the roles and secret of a
// removed region folder are kept (noted) without --prune, left alone with
// --region naming another region, and deleted with --prune (the secret
// with its recovery window).
func TestIAMRemovedRegionPrunedOnlyWithPrune(t *testing.T) {
	s := newIAMEnv(t, nil, true, true)
	r := iamRepo(t)
	opts := s.options(r, &realShortClock{*newFakeClock()})
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	for p := range r.fs {
		if strings.HasPrefix(p, "regions/eu-west-2/") {
			delete(r.fs, p)
		}
	}
	p, err := PlanChanges(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(p.Notes, "\n")
	for _, want := range []string{
		"IAM role eu-west-2/coder-eu-west-2-key-sync is an orphan: its region folder regions/eu-west-2 no longer exists; kept (use --prune to delete it)",
		"secret eu-west-2/demo/eu-west-2/key-sync (eu-west-2) is an orphan",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	scoped := opts
	scoped.Regions, scoped.Prune = []string{"us-east-2"}, true
	if _, err := Apply(context.Background(), scoped); err != nil {
		t.Fatal(err)
	}
	if s.roleSnapshot(t, "coder-eu-west-2-key-sync") == "absent" {
		t.Fatal("--region us-east-2 --prune deleted a role of eu-west-2")
	}
	opts.Prune = true
	res, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if s.roleSnapshot(t, "coder-eu-west-2-key-sync") != "absent" {
		t.Error("--prune kept the role of the removed region")
	}
	for _, name := range []string{"coder-us-east-2-litellm", "coder-us-west-2-key-sync"} {
		if s.roleSnapshot(t, name) == "absent" {
			t.Errorf("--prune deleted %s", name)
		}
	}
	for _, sec := range s.secrets(t, "eu-west-2") {
		if sec.DeletedDate == nil {
			t.Errorf("secret %s not scheduled for deletion", aws.ToString(sec.Name))
		}
	}
	if !res.Final.Converged() || res.Final.Kept != 0 {
		t.Errorf("not converged after prune: %+v", res.Final)
	}
}

// TestIAMApplyKilledHalfwayConverges kills the apply among the IAM and
// Secrets Manager calls; the next apply converges with one role per name,
// each with its policies.
func TestIAMApplyKilledHalfwayConverges(t *testing.T) {
	// The registry, 4 certificates and 3 health checks come first (8 calls).
	for _, n := range []int{9, 11, 16} {
		t.Run(strings.Repeat("I", n%5+1), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := &faulty{injected: map[string]int{}, cancelAfter: n, cancel: cancel}
			s := newIAMEnv(t, func(next http.RoundTripper) http.RoundTripper { f.next = next; return f }, true, true)
			r := iamRepo(t)
			opts := s.options(r, &realShortClock{*newFakeClock()})
			if _, err := Apply(ctx, opts); err == nil {
				t.Fatal("apply was not interrupted")
			}
			if _, err := Apply(context.Background(), opts); err != nil {
				t.Fatalf("second apply: %v", err)
			}
			p, err := PlanChanges(context.Background(), opts)
			if err != nil || !p.Converged() {
				t.Fatalf("not converged: %v %+v", err, p)
			}
			a, err := mustSyncer(t, opts).read(context.Background(), mustDesired(t, r))
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Roles) != 4 || len(a.Secrets) != 3 {
				t.Errorf("%d roles, %d secrets; want 4 and 3", len(a.Roles), len(a.Secrets))
			}
			for _, role := range a.Roles {
				if len(role.Inline) != 1 {
					t.Errorf("role %s has inline policies %v", role.Name, role.Inline)
				}
			}
		})
	}
}

// TestIAMNoSuchEntityAfterCreateIsRetried: IAM's eventual consistency (a
// new role not yet visible to PutRolePolicy) is retried on the clock.
func TestIAMNoSuchEntityAfterCreateIsRetried(t *testing.T) {
	f := &faulty{injected: map[string]int{}, faults: []*fault{{op: "PutRolePolicy", kind: "nosuchentity", times: 2}, {op: "AttachRolePolicy", kind: "nosuchentity", times: 1}}}
	s := newIAMEnv(t, func(next http.RoundTripper) http.RoundTripper { f.next = next; return f }, true, true)
	var progress bytes.Buffer
	opts := s.options(iamRepo(t), &realShortClock{*newFakeClock()})
	opts.Progress = &progress
	res, err := Apply(context.Background(), opts)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if f.injected["nosuchentity"] != 3 || res.Retries < 3 {
		t.Errorf("injected %d, retries %d", f.injected["nosuchentity"], res.Retries)
	}
	if !strings.Contains(progress.String(), "NoSuchEntity (IAM has not propagated the new role yet)") {
		t.Errorf("progress does not say why it retried:\n%s", progress.String())
	}
	if !res.Final.Converged() {
		t.Errorf("not converged: %+v", res.Final)
	}
}

// TestIAMSavedPlanStaleWhenRoleChanges: a saved plan that updates a role
// is refused once the role changed in IAM after the plan was made.
func TestIAMSavedPlanStaleWhenRoleChanges(t *testing.T) {
	s := newIAMEnv(t, nil, true, true)
	r := iamRepo(t)
	opts := s.options(r, &realShortClock{*newFakeClock()})
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	// The desired description changes: the plan updates the role.
	in := exampleFleet()[0]
	roles, _ := iamFiles(in)
	roles.Roles[0].Description = "key sync reads and rotates its secret"
	b, err := awsstate.Marshal(roles)
	if err != nil {
		t.Fatal(err)
	}
	r.fs["regions/"+in.Region+"/aws/"+awsstate.RolesFile] = &fstest.MapFile{Data: b}
	p, err := PlanChanges(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, change, _ := p.Counts(); change != 1 {
		t.Fatalf("want one role update, got %+v", p.Changes)
	}
	data, err := p.Save()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"iam-role us-east-2/coder-us-east-2-key-sync"`) {
		t.Errorf("saved plan has no digest of the role:\n%s", data)
	}
	if _, err := s.iam.PutRolePolicy(context.Background(), &iam.PutRolePolicyInput{RoleName: aws.String(roles.Roles[0].Name), PolicyName: aws.String("added-by-hand"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::x/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	sp, err := LoadPlanFile("sync.plan", data)
	if err != nil {
		t.Fatal(err)
	}
	opts.Saved = sp
	_, err = Apply(context.Background(), opts)
	var stale *StalePlanError
	if !errors.As(err, &stale) || !strings.Contains(err.Error(), "iam-role us-east-2/coder-us-east-2-key-sync") {
		t.Fatalf("want a stale plan naming the role, got %v", err)
	}
}

// TestPolicyComparisonAndDiff: documents compare as IAM reads them
// (URL-encoded, a single value equal to a one-element list), the trust
// policy is deterministic, and the diff marks changed lines.
func TestPolicyComparisonAndDiff(t *testing.T) {
	sa := awsstate.ServiceAccountRef{Namespace: "coder", Name: "key-sync"}
	trust := TrustPolicy("arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-2.amazonaws.com/id/ABC", "oidc.eks.us-east-2.amazonaws.com/id/ABC", sa)
	if trust != TrustPolicy("arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-2.amazonaws.com/id/ABC", "oidc.eks.us-east-2.amazonaws.com/id/ABC", sa) {
		t.Error("trust policy is not deterministic")
	}
	want := `{"Statement":[{"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"oidc.eks.us-east-2.amazonaws.com/id/ABC:aud":"sts.amazonaws.com","oidc.eks.us-east-2.amazonaws.com/id/ABC:sub":"system:serviceaccount:coder:key-sync"}},"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-2.amazonaws.com/id/ABC"}}],"Version":"2012-10-17"}`
	if trust != want {
		t.Errorf("trust policy:\n%s\nwant\n%s", trust, want)
	}
	encoded := url.QueryEscape(strings.Replace(trust, `"Action":"sts:AssumeRoleWithWebIdentity"`, `"Action":["sts:AssumeRoleWithWebIdentity"]`, 1))
	if !samePolicy(decodePolicy(encoded), trust) {
		t.Error("an URL-encoded document with a one-element Action list differs")
	}
	other := strings.Replace(trust, "coder:key-sync", "coder:*", 1)
	if samePolicy(other, trust) {
		t.Error("a wider subject compares equal")
	}
	diff := strings.Join(policyDiff(other, trust), "\n")
	if !strings.Contains(diff, `-           "oidc.eks.us-east-2.amazonaws.com/id/ABC:sub": "system:serviceaccount:coder:*"`) ||
		!strings.Contains(diff, `+           "oidc.eks.us-east-2.amazonaws.com/id/ABC:sub": "system:serviceaccount:coder:key-sync"`) ||
		!strings.Contains(diff, `    "Version": "2012-10-17"`) {
		t.Errorf("diff:\n%s", diff)
	}
}

// TestRoleDetailsReadAsPerRole: above roleListingMin roles, sync and status
// read the roles with one GetAccountAuthorizationDetails listing; what it
// builds must be exactly what the role-by-role reads (GetRole,
// ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies) of a few
// roles build, for owned roles with inline and managed
// policies, a description and documents IAM URL-encodes, and for foreign
// roles under the fleet's path and elsewhere.
func TestRoleDetailsReadAsPerRole(t *testing.T) {
	s := newIAMEnv(t, nil, true, true)
	s.createForeignRole(t, "handmade", rolePath("demo"))
	s.createForeignRole(t, "team-ci", "/")
	r := iamRepo(t)
	opts := s.options(r, &realShortClock{*newFakeClock()})
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatalf("apply: %v", err)
	}
	ctx := context.Background()
	// An owned role with a description and a policy whose text IAM
	// returns URL-encoded (spaces, '+', '%', '&', non-ASCII).
	if _, err := s.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("coder-extra"), Path: aws.String(rolePath("demo")),
		Description:              aws.String("made by hand & kept: 100% ü"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
		Tags: []iamtypes.Tag{{Key: aws.String(awsstate.TagFleet), Value: aws.String("demo")}, {Key: aws.String(awsstate.TagName), Value: aws.String("extra")},
			{Key: aws.String(awsstate.TagRegion), Value: aws.String("primary")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("coder-extra"), PolicyName: aws.String("odd"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::a b+c%d&e/ü/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("coder-extra"), PolicyArn: aws.String(extraPolicyARN)}); err != nil {
		t.Fatal(err)
	}
	d, err := LoadDesired(r.fs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	readActual := func(share *readCache, listingMin int, listingOnly bool) *Actual {
		o := opts
		if share != nil {
			o.Clients = share.wrap(o.Clients)
		}
		sy, err := newSyncer(o)
		if err != nil {
			t.Fatal(err)
		}
		sy.share, sy.roleListingMin, sy.rolesFromListing = share, listingMin, listingOnly
		a := &Actual{}
		if err := sy.readIAM(ctx, d, a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	read := func(share *readCache, listingMin int, listingOnly bool) []Role {
		return readActual(share, listingMin, listingOnly).Roles
	}
	perRole := read(nil, math.MaxInt, false)
	check := func(what string, share *readCache) []Role {
		before, listings := s.counter.Count("GetRolePolicy"), s.counter.Count("GetAccountAuthorizationDetails")
		roles := read(share, 0, false)
		if n := s.counter.Count("GetRolePolicy") - before; n != 0 {
			t.Errorf("%s read made %d GetRolePolicy calls, want 0 (the listing holds the policies)", what, n)
		}
		if s.counter.Count("GetAccountAuthorizationDetails") == listings {
			t.Errorf("%s read made no GetAccountAuthorizationDetails call", what)
		}
		return roles
	}
	listed := check("status", newReadCache(true))
	if synced := check("sync", nil); !reflect.DeepEqual(synced, listed) {
		t.Errorf("sync's listing read differs from status's:\n%+v\n%+v", synced, listed)
	}
	var owned, inline, managed, described int
	for _, role := range perRole {
		if role.Owned {
			owned++
		}
		if len(role.Inline) > 0 {
			inline++
		}
		if len(role.Managed) > 0 {
			managed++
		}
		if role.Description != "" {
			described++
		}
	}
	if owned < 2 || inline < 2 || managed < 2 || described < 1 {
		t.Fatalf("the fixture does not exercise the read: %d owned, %d with inline, %d with managed policies, %d described", owned, inline, managed, described)
	}
	if !reflect.DeepEqual(perRole, listed) {
		a, _ := json.MarshalIndent(perRole, "", " ")
		b, _ := json.MarshalIndent(listed, "", " ")
		t.Errorf("roles read one by one:\n%s\nroles from GetAccountAuthorizationDetails:\n%s", a, b)
	}

	// ReadStatus reads the listing alone, without ListRoles: the same
	// roles with no descriptions (DescriptionUnread set), so a role whose
	// description alone differs plans no change there; sync plan's read
	// still compares it.
	listRoles := s.counter.Count("ListRoles")
	statusRoles := read(newReadCache(true), roleListingMin, true)
	if n := s.counter.Count("ListRoles") - listRoles; n != 0 {
		t.Errorf("status' read made %d ListRoles calls, want 0", n)
	}
	want := slices.Clone(perRole)
	for i := range want {
		want[i].Description, want[i].DescriptionUnread = "", true
	}
	if !reflect.DeepEqual(want, statusRoles) {
		a, _ := json.MarshalIndent(want, "", " ")
		b, _ := json.MarshalIndent(statusRoles, "", " ")
		t.Errorf("status' roles:\n%s\nwant the roles read one by one without descriptions:\n%s", b, a)
	}
	var desc awsstate.Role
	for _, r := range d.Regions {
		for _, role := range r.Roles {
			if role.Description != "" {
				desc = role
			}
		}
	}
	if desc.Name == "" {
		t.Fatal("no desired role has a description")
	}
	if _, err := s.iam.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String(desc.Name), Description: aws.String("edited by hand")}); err != nil {
		t.Fatal(err)
	}
	descChanges := func(a *Actual) []string {
		p := Compute(d, a, Policy{})
		var out []string
		for _, c := range p.Changes {
			for _, f := range c.Fields {
				if c.Resource == ResourceRole && f.Name == "description" {
					out = append(out, c.Address)
				}
			}
		}
		return out
	}
	if got := descChanges(readActual(nil, math.MaxInt, false)); len(got) != 1 {
		t.Errorf("sync's read after a description edit: description changes %v, want one for %s", got, desc.Name)
	}
	if got := descChanges(readActual(newReadCache(true), roleListingMin, true)); len(got) != 0 {
		t.Errorf("status' read after a description edit: description changes %v, want none", got)
	}

	// ReadStatus reads the account's listings while it loads the desired
	// state, into the cache its regions' reads share: each is asked once.
	counts := func() map[string]int {
		m := map[string]int{}
		for _, op := range []string{"GetAccountAuthorizationDetails", "ListOpenIDConnectProviders", "ListHealthChecks", "ListRoles"} {
			m[op] = s.counter.Count(op)
		}
		return m
	}
	before := counts()
	if _, err := ReadStatus(ctx, opts); err != nil {
		t.Fatal(err)
	}
	after := counts()
	for op, want := range map[string]int{"GetAccountAuthorizationDetails": 1, "ListOpenIDConnectProviders": 1, "ListHealthChecks": 1, "ListRoles": 0} {
		if got := after[op] - before[op]; got != want {
			t.Errorf("ReadStatus of %d regions made %d %s calls, want %d", len(d.Regions), got, op, want)
		}
	}
}
