package awsstate

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestRoleAndSecretListsRoundTrip marshals a role and a secret list, parses
// them back and marshals again: the bytes must not change.
func TestRoleAndSecretListsRoundTrip(t *testing.T) {
	roles := File{Kind: KindRoleList, Fleet: "demo", Region: "us-east-2", Roles: []Role{{
		Name: "demo-use2-litellm", Path: "/coderfleet/", Description: "LiteLLM calls Bedrock",
		ServiceAccount: ServiceAccountRef{Namespace: "litellm", Name: "litellm"},
		Cluster:        ClusterRef{Name: "demo-use2", AWSRegion: "us-east-2"},
		InlinePolicies: []InlinePolicy{{Name: "bedrock", Document: PolicyDocument{Version: "2012-10-17", Statement: []Statement{{
			Effect: "Allow", Action: []string{"bedrock:InvokeModel"}, Resource: []string{"arn:aws:bedrock:us-east-1::foundation-model/*"},
		}}}}},
		Tags: OwnedTags("demo", "us-east-2", "litellm"),
	}}}
	secrets := File{Kind: KindSecretList, Fleet: "demo", Region: "us-east-2", Secrets: []Secret{{
		Name: "demo/litellm-key", AWSRegion: "us-east-2", Tags: OwnedTags("demo", "us-east-2", "litellm-key"),
	}}}
	for name, f := range map[string]File{RolesFile: roles, SecretsFile: secrets} {
		b, err := Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(name, b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		again, err := Marshal(*got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, again) {
			t.Errorf("%s changed on a round trip:\n%s\n---\n%s", name, b, again)
		}
	}
	if got := roles.Roles[0].ARN("aws", "123456789012"); got != "arn:aws:iam::123456789012:role/coderfleet/demo-use2-litellm" {
		t.Errorf("ARN = %q", got)
	}
	if got := roles.Roles[0].ServiceAccount.Subject(); got != "system:serviceaccount:litellm:litellm" {
		t.Errorf("Subject = %q", got)
	}
}

// TestParseRoleListRefuses covers the checks of a role list.
func TestParseRoleListRefuses(t *testing.T) {
	head := "apiVersion: coderfleet.io/aws/v1alpha1\nkind: RoleList\nfleet: demo\nregion: r\nroles:\n"
	role := "  - name: a\n    path: /\n    serviceAccount: {namespace: ns, name: sa}\n    cluster: {name: c, awsRegion: us-east-2}\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"duplicate name", head + role + role, `"a" is also defined by roles[0]`},
		{"bad effect", head + role + "    inlinePolicies:\n      - name: p\n        document: {Version: '2012-10-17', Statement: [{Effect: Permit, Action: [s3:GetObject], Resource: ['*']}]}\n", `unsupported value "Permit"`},
		{"unknown key", head + role + "    trust: x\n", "trust"},
		{"missing cluster", head + "  - name: a\n    path: /\n    serviceAccount: {namespace: ns, name: sa}\n", "cluster"},
		{"name over 64", head + strings.Replace(role, "name: a", "name: "+strings.Repeat("r", 65), 1), "is 65 characters; IAM allows at most 64"},
		{"name charset", head + strings.Replace(role, "name: a", "name: a:b", 1), "may only hold letters"},
		{"path", head + strings.Replace(role, "path: /", "path: /a b/", 1), "must be at most 512 printable ASCII"},
		{"description", head + role + "    description: " + strings.Repeat("d", 1001) + "\n", "IAM allows at most 1000"},
		{"policy name", head + role + "    inlinePolicies:\n      - name: 'a b'\n        document: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: [s3:GetObject], Resource: ['*']}]}\n", "not a valid inline policy name"},
		{"managed policy ARN", head + role + "    managedPolicies: ['arn:aws:iam::aws:role/x']\n", "not a managed policy ARN"},
		{"managed policy quota", head + role + "    managedPolicies: [" + managed(11) + "]\n", "IAM's default quota is 10"},
		{"inline size", head + role + "    inlinePolicies:\n      - name: p\n        document: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: [s3:GetObject], Resource: ['arn:aws:s3:::" + strings.Repeat("b", 10300) + "']}]}\n", "IAM allows at most 10240 per role"},
		{"empty action", head + role + "    inlinePolicies:\n      - name: p\n        document: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: [], Resource: ['*']}]}\n", "at least one action"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("roles.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// managed returns n distinct AWS managed policy ARNs, comma-separated.
func managed(n int) string {
	var l []string
	for i := 0; i < n; i++ {
		l = append(l, fmt.Sprintf("'arn:aws:iam::aws:policy/P%d'", i))
	}
	return strings.Join(l, ", ")
}

// TestPolicySizeIgnoresWhiteSpace: IAM counts a policy's characters
// without white space; the size is that of the compact JSON form.
func TestPolicySizeIgnoresWhiteSpace(t *testing.T) {
	d := PolicyDocument{Version: "2012-10-17", Statement: []Statement{{Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: []string{"a b"}}}}
	const compact = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["ab"]}]}`
	if got := PolicySize(d); got != len(compact) {
		t.Errorf("PolicySize = %d, want %d", got, len(compact))
	}
}
