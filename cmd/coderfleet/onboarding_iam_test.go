package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// fleetCluster is the EKS cluster of a region, from overlays/<r>/region.yaml.
type fleetCluster struct {
	region, awsRegion, name string
}

// fleetClusters reads the cluster of every region of the repository.
func fleetClusters(t *testing.T, repo string) []fleetCluster {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repo, "overlays", "*", "region.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var out []fleetCluster
	for _, f := range files {
		var r struct {
			AWSRegion   string `json:"awsRegion"`
			ClusterName string `json:"clusterName"`
		}
		readYAML(t, f, &r)
		out = append(out, fleetCluster{region: filepath.Base(filepath.Dir(f)), awsRegion: r.AWSRegion, name: r.ClusterName})
	}
	return out
}

// createClusterWithProvider does what a platform team does before onboarding
// a region: it creates the EKS cluster c in moto (at url) and the IAM OIDC
// provider of its issuer (eksctl utils associate-iam-oidc-provider); it
// returns the issuer URL.
func createClusterWithProvider(t *testing.T, ctx context.Context, cfg aws.Config, url string, c fleetCluster) string {
	t.Helper()
	issuer := createCluster(t, ctx, cfg, url, c)
	createProvider(t, ctx, cfg, c, issuer)
	return issuer
}

// createCluster creates the EKS cluster c in moto, without an IAM OIDC
// provider, and returns its OIDC issuer URL.
func createCluster(t *testing.T, ctx context.Context, cfg aws.Config, url string, c fleetCluster) string {
	t.Helper()
	out, err := eks.NewFromConfig(cfg, func(o *eks.Options) { o.Region = c.awsRegion }).CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String(c.name), RoleArn: aws.String("arn:aws:iam::123456789012:role/eks-cluster"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{motoDefaultSubnet(t, url, c.awsRegion)}}})
	if err != nil {
		t.Fatalf("creating EKS cluster %s in moto's %s: %v", c.name, c.awsRegion, err)
	}
	if out.Cluster.Identity == nil || out.Cluster.Identity.Oidc == nil || aws.ToString(out.Cluster.Identity.Oidc.Issuer) == "" {
		t.Fatalf("moto's EKS cluster %s has no OIDC issuer: %+v", c.name, out.Cluster)
	}
	return aws.ToString(out.Cluster.Identity.Oidc.Issuer)
}

// createProvider creates the IAM OIDC provider of cluster c's issuer.
func createProvider(t *testing.T, ctx context.Context, cfg aws.Config, c fleetCluster, issuer string) {
	t.Helper()
	if _, err := iam.NewFromConfig(cfg).CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String(issuer),
		ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"}}); err != nil {
		t.Fatalf("creating the IAM OIDC provider of %s: %v", c.name, err)
	}
}

// irsaServiceAccount is a rendered ServiceAccount with an
// eks.amazonaws.com/role-arn annotation: a ServiceAccount object, or the
// serviceAccount (or controller.serviceAccount) values of a HelmRelease.
type irsaServiceAccount struct {
	file, region, namespace, name, roleARN string
}

// irsaServiceAccounts reads every annotated ServiceAccount of regions/.
func irsaServiceAccounts(t *testing.T, repo string) []irsaServiceAccount {
	t.Helper()
	type sa struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations"`
	}
	var out []irsaServiceAccount
	err := filepath.WalkDir(filepath.Join(repo, "regions"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		rel = filepath.ToSlash(rel)
		region := strings.Split(rel, "/")[1]
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name        string            `json:"name"`
				Namespace   string            `json:"namespace"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				TargetNamespace string `json:"targetNamespace"`
				Values          struct {
					ServiceAccount *sa `json:"serviceAccount"`
					Controller     struct {
						ServiceAccount *sa `json:"serviceAccount"`
					} `json:"controller"`
				} `json:"values"`
			} `json:"spec"`
		}
		readYAML(t, p, &obj)
		add := func(ns, name string, ann map[string]string) {
			if arn, ok := ann["eks.amazonaws.com/role-arn"]; ok {
				out = append(out, irsaServiceAccount{file: rel, region: region, namespace: ns, name: name, roleARN: arn})
			}
		}
		switch obj.Kind {
		case "ServiceAccount":
			add(obj.Metadata.Namespace, obj.Metadata.Name, obj.Metadata.Annotations)
		case "HelmRelease":
			ns := obj.Spec.TargetNamespace
			if ns == "" {
				ns = obj.Metadata.Namespace
			}
			for _, s := range []*sa{obj.Spec.Values.ServiceAccount, obj.Spec.Values.Controller.ServiceAccount} {
				if s != nil {
					add(ns, s.Name, s.Annotations)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkIRSA checks issue 12's "done when" against moto: every annotated
// ServiceAccount of regions/ (want of them) names a role that exists, on the
// annotation's path, whose trust admits exactly that ServiceAccount's token
// from its region's cluster (issuers: cluster name -> issuer URL) with
// audience sts.amazonaws.com; and every secret of regions/*/aws/secrets.yaml
// exists without a value.
func checkIRSA(t *testing.T, ctx context.Context, cfg aws.Config, repo string, issuers map[string]string, want int) {
	t.Helper()
	api := iam.NewFromConfig(cfg)
	providers, err := api.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		t.Fatal(err)
	}
	clusters := map[string]fleetCluster{}
	for _, c := range fleetClusters(t, repo) {
		clusters[c.region] = c
	}
	sas := irsaServiceAccounts(t, repo)
	if len(sas) != want {
		t.Errorf("regions/ has %d ServiceAccounts with a role ARN, want %d: %+v", len(sas), want, sas)
	}
	for _, sa := range sas {
		where := sa.file + ": ServiceAccount " + sa.namespace + "/" + sa.name
		issuer := strings.TrimPrefix(issuers[clusters[sa.region].name], "https://")
		if issuer == "" {
			t.Errorf("%s: no cluster issuer for region %s", where, sa.region)
			continue
		}
		var providerARN string
		for _, p := range providers.OpenIDConnectProviderList {
			if strings.HasSuffix(aws.ToString(p.Arn), ":oidc-provider/"+issuer) {
				providerARN = aws.ToString(p.Arn)
			}
		}
		if providerARN == "" {
			t.Fatalf("no IAM OIDC provider for issuer %s in moto", issuer)
		}
		i := strings.Index(sa.roleARN, ":role/")
		j := strings.LastIndex(sa.roleARN, "/")
		if i < 0 {
			t.Errorf("%s: annotation %q is not a role ARN", where, sa.roleARN)
			continue
		}
		path, name := sa.roleARN[i+len(":role"):j+1], sa.roleARN[j+1:]
		got, err := api.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			t.Errorf("%s: role %s of its annotation: %v", where, name, err)
			continue
		}
		if aws.ToString(got.Role.Path) != path || aws.ToString(got.Role.Arn) != sa.roleARN {
			t.Errorf("%s: role %s has path %q and ARN %q, the annotation %q", where, name, aws.ToString(got.Role.Path), aws.ToString(got.Role.Arn), sa.roleARN)
		}
		doc, err := url.QueryUnescape(aws.ToString(got.Role.AssumeRolePolicyDocument))
		if err != nil {
			t.Fatal(err)
		}
		var trust struct {
			Statement []struct {
				Effect    string
				Principal map[string]string
				Action    any
				Condition map[string]map[string]any
			}
		}
		if err := json.Unmarshal([]byte(doc), &trust); err != nil {
			t.Errorf("%s: role %s: trust policy %q: %v", where, name, doc, err)
			continue
		}
		wantCond := map[string]map[string]any{"StringEquals": {
			issuer + ":sub": "system:serviceaccount:" + sa.namespace + ":" + sa.name,
			issuer + ":aud": "sts.amazonaws.com",
		}}
		if len(trust.Statement) != 1 {
			t.Errorf("%s: role %s: trust policy has %d statements, want 1: %s", where, name, len(trust.Statement), doc)
			continue
		}
		s := trust.Statement[0]
		if s.Effect != "Allow" || len(s.Principal) != 1 || s.Principal["Federated"] != providerARN ||
			s.Action != "sts:AssumeRoleWithWebIdentity" || mustJSON(t, s.Condition) != mustJSON(t, wantCond) {
			t.Errorf("%s: role %s trusts\n  %s\nwant Allow for Federated %s, Action sts:AssumeRoleWithWebIdentity, Condition %s",
				where, name, doc, providerARN, mustJSON(t, wantCond))
		}
	}

	secrets, err := filepath.Glob(filepath.Join(repo, "regions", "*", "aws", "secrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range secrets {
		var list struct {
			Secrets []struct {
				Name      string `json:"name"`
				AWSRegion string `json:"awsRegion"`
			} `json:"secrets"`
		}
		readYAML(t, f, &list)
		for _, s := range list.Secrets {
			n++
			sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.Region = s.AWSRegion })
			d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.Name)})
			if err != nil {
				t.Errorf("secret %s of %s in %s: %v", s.Name, f, s.AWSRegion, err)
				continue
			}
			v, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(s.Name), IncludeDeprecated: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.VersionIdsToStages) != 0 || len(v.Versions) != 0 {
				t.Errorf("secret %s in %s has a value: versions %v %+v", s.Name, s.AWSRegion, d.VersionIdsToStages, v.Versions)
			}
		}
	}
	if n == 0 {
		t.Error("regions/*/aws/secrets.yaml name no secret; the example fleet's key sync reads one")
	}
}
