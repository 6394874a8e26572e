package validate

import (
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/config"
)

func TestIsReadAction(t *testing.T) {
	for action, want := range map[string]bool{
		"bedrock:ListInferenceProfiles": true,
		"ec2:DescribeInstances":         true,
		"s3:GetObject":                  true,
		"dynamodb:BatchGetItem":         true,
		"s3:PutObject":                  false,
		"s3:Get*":                       false, // a wildcard may match anything the service adds
		"iam:Getaway":                   false, // Get must be followed by a word
		"kms:Decrypt":                   false,
		"GetObject":                     false,
	} {
		if got := IsReadAction(action); got != want {
			t.Errorf("IsReadAction(%q) = %v, want %v", action, got, want)
		}
	}
}

// TestRolePolicies: wildcard actions and writes on "*" are refused at the
// statement's line, naming role, policy and statement; reads on "*",
// writes on named resources and Deny statements pass, and an allowance
// lets exactly its role and action through.
func TestRolePolicies(t *testing.T) {
	const doc = `apiVersion: coderfleet.io/aws/v1alpha1
kind: RoleList
fleet: demo
region: r
roles:
  - name: c-provisioner-ws
    path: /
    serviceAccount: {namespace: ws, name: coder}
    cluster: {name: c, awsRegion: us-east-2}
    inlinePolicies:
      - name: workspace
        document:
          Version: "2012-10-17"
          Statement:
            - {Effect: Allow, Action: [ec2:DescribeInstances, bedrock:ListInferenceProfiles], Resource: ["*"]}
            - {Effect: Allow, Action: [s3:PutObject], Resource: ["arn:aws:s3:::b/*"]}
            - {Effect: Deny, Action: ["*"], Resource: ["*"]}
            - Sid: Wide
              Effect: Allow
              Action: [ec2:RunInstances, s3:*]
              Resource: ["*"]
            - {Effect: Allow, Action: ["*"], Resource: ["arn:aws:s3:::b"]}
`
	got := RolePolicies("r", "regions/r/aws/roles.yaml", []byte(doc), nil)
	if len(got) != 3 {
		t.Fatalf("got %d problems, want 3: %v", len(got), got)
	}
	for i, want := range []struct {
		line   int
		phrase string
	}{
		{18, `statement 3 (Sid Wide): write action "ec2:RunInstances" is allowed on resource "*"`},
		{18, `action "s3:*" grants every action of the service`},
		{22, `statement 4: action "*" grants every action of every service`},
	} {
		if got[i].Line != want.line || !strings.Contains(got[i].Msg, want.phrase) || !strings.Contains(got[i].Msg, "role c-provisioner-ws, inline policy workspace") {
			t.Errorf("problem %d = line %d %q, want line %d containing %q", i, got[i].Line, got[i].Msg, want.line, want.phrase)
		}
		if !strings.Contains(got[i].Hint, "iam.allowWildcards") {
			t.Errorf("problem %d hint %q names no allowance", i, got[i].Hint)
		}
	}
	allow := []config.WildcardAllowance{{Role: "c-provisioner-ws", Action: "s3:*", Reason: "r"}, {Role: "other", Action: "*", Reason: "r"}}
	if got := RolePolicies("r", "f", []byte(doc), allow); len(got) != 2 || strings.Contains(got[0].Msg+got[1].Msg, `"s3:*"`) {
		t.Errorf("with the s3:* allowance: %v, want the two other problems", got)
	}
}
