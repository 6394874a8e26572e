package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/coderfleet/coderfleet/awsstate"
	fleetsync "github.com/coderfleet/coderfleet/sync"
)

// The Terraform side of issue 16 items 4 and 5: the fleet's desired AWS
// state (certificates with DNS validation, health checks, alias records)
// written as the Terraform configuration a Terraform user would keep, and
// terraform run against the same moto_server and proxy as sync.

// tfProviderMirror is the filesystem mirror holding
// registry.terraform.io/hashicorp/aws (installed on every machine; never the
// network).
const tfProviderMirror = "/opt/tf-plugins"

// tfProviderVersion is the hashicorp/aws version in tfProviderMirror.
const tfProviderVersion = "5.100.0"

// tfInputs are the values a Terraform user keeps in variables or reads with
// data sources: the hosted zone's ID and each load balancer's DNS name and
// zone. The bench reads them from moto before generating, so Terraform's
// plan makes no calls for them (sync's plan does: it finds the load
// balancers by their tags).
type tfInputs struct {
	endpoint string               // the AWS endpoint (moto or the proxy)
	zoneID   string               // the hosted zone of the records, without "/hostedzone/"
	nlbs     map[string]nlbTarget // by fleetsync.LBRef.String()
}

// terraformConfig turns the desired state into main.tf.json: the
// hashicorp/aws provider (one aliased configuration per AWS region holding a
// certificate, the default in us-east-1 for Route53), per certificate an
// aws_acm_certificate, its validation CNAMEs (aws_route53_record with
// for_each over domain_validation_options) and an
// aws_acm_certificate_validation (waits for ISSUED, as sync apply does), per
// health check an aws_route53_health_check, and per record whose load
// balancer exists an aws_route53_record alias (records whose load balancer
// does not exist yet are left out, as sync leaves them waiting). The output
// is deterministic (encoding/json sorts the maps' keys).
func terraformConfig(d *fleetsync.Desired, in tfInputs) ([]byte, error) {
	type obj = map[string]any
	provider := func(region string) obj {
		return obj{
			"region": region, "access_key": "AKIDBENCH", "secret_key": "secret",
			"skip_credentials_validation": true, "skip_requesting_account_id": true, "skip_metadata_api_check": true, "skip_region_validation": true,
			"endpoints": obj{"acm": in.endpoint, "route53": in.endpoint, "sts": in.endpoint, "iam": in.endpoint, "elbv2": in.endpoint},
		}
	}
	awsRegions := map[string]bool{}
	certs, validations, certValidations, hcs, records := obj{}, obj{}, obj{}, obj{}, obj{}
	for _, r := range d.Regions {
		for _, c := range r.Certificates {
			awsRegions[c.AWSRegion] = true
			key := tfName(r.Region, c.Name)
			cert := obj{
				"provider": "aws." + tfName(c.AWSRegion), "domain_name": c.DomainName, "validation_method": "DNS",
				"tags": c.Tags, "lifecycle": obj{"create_before_destroy": true},
			}
			if len(c.SubjectAlternativeNames) > 0 {
				cert["subject_alternative_names"] = c.SubjectAlternativeNames
			}
			certs[key] = cert
			// The provider's documented pattern: one record per name to
			// validate; a wildcard and its base name share one CNAME, and so
			// do certificates of the same names, hence allow_overwrite.
			validations["validation_"+key] = obj{
				"for_each": fmt.Sprintf("${{ for dvo in aws_acm_certificate.%s.domain_validation_options : dvo.domain_name => "+
					"{ name = dvo.resource_record_name, record = dvo.resource_record_value, type = dvo.resource_record_type } }}", key),
				"allow_overwrite": true, "name": "${each.value.name}", "records": []string{"${each.value.record}"},
				"ttl": c.Validation.TTL, "type": "${each.value.type}", "zone_id": in.zoneID,
			}
			certValidations[key] = obj{
				"provider":                "aws." + tfName(c.AWSRegion),
				"certificate_arn":         fmt.Sprintf("${aws_acm_certificate.%s.arn}", key),
				"validation_record_fqdns": fmt.Sprintf("${[for r in aws_route53_record.validation_%s : r.fqdn]}", key),
			}
		}
		for _, h := range r.HealthChecks {
			hc := obj{
				"type": h.Type, "fqdn": h.FQDN, "port": h.Port, "resource_path": h.ResourcePath, "request_interval": h.RequestInterval,
				"failure_threshold": h.FailureThreshold, "measure_latency": h.MeasureLatency, "tags": h.Tags,
			}
			if h.Type == "HTTPS" {
				hc["enable_sni"] = true
			}
			hcs[tfName(r.Region, h.Name)] = hc
		}
		for _, rec := range r.Records {
			lb, ok := in.nlbs[fleetsync.LBRef{AWSRegion: rec.Alias.AWSRegion, Cluster: rec.Alias.Cluster, Service: rec.Alias.Service}.String()]
			if !ok {
				continue
			}
			o := obj{
				"zone_id": in.zoneID, "name": rec.Name, "type": rec.Type,
				"alias": obj{"name": lb.dnsName, "zone_id": lb.zoneID, "evaluate_target_health": rec.Alias.EvaluateTargetHealth},
			}
			if rec.SetIdentifier != "" {
				o["set_identifier"] = rec.SetIdentifier
			}
			if rec.Routing.Policy == awsstate.RoutingLatency {
				o["latency_routing_policy"] = obj{"region": rec.Routing.AWSRegion}
			}
			if rec.HealthCheck != "" {
				o["health_check_id"] = fmt.Sprintf("${aws_route53_health_check.%s.id}", tfName(r.Region, rec.HealthCheck))
			}
			key := tfName(r.Region, rec.Name, rec.Type, rec.SetIdentifier)
			if _, dup := records[key]; dup {
				return nil, fmt.Errorf("region %q: two records map to the Terraform name %q", r.Region, key)
			}
			records[key] = o
		}
	}
	providers := []obj{provider("us-east-1")}
	for _, ar := range slices.Sorted(maps.Keys(awsRegions)) {
		p := provider(ar)
		p["alias"] = tfName(ar)
		providers = append(providers, p)
	}
	for k, v := range validations {
		records[k] = v
	}
	cfg := obj{
		"terraform": obj{"required_providers": obj{"aws": obj{"source": "hashicorp/aws", "version": tfProviderVersion}}},
		"provider":  obj{"aws": providers},
		"resource": obj{
			"aws_acm_certificate": certs, "aws_acm_certificate_validation": certValidations,
			"aws_route53_health_check": hcs, "aws_route53_record": records,
		},
	}
	return json.MarshalIndent(cfg, "", "  ")
}

var tfUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// tfName joins parts into a Terraform name: letters, digits, "_" and "-"
// ("*" becomes "star"), never starting with a digit.
func tfName(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p == "" {
			continue
		}
		p = strings.ReplaceAll(p, "*", "star")
		out = append(out, strings.Trim(tfUnsafe.ReplaceAllString(p, "_"), "_"))
	}
	s := strings.Join(out, "_")
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "r_" + s
	}
	return s
}

// terraform runs the terraform CLI in its own folder with a CLI
// configuration that installs the AWS provider from tfProviderMirror only.
type terraform struct {
	bin, dir string
	env      []string
}

// newTerraform writes cfg as main.tf.json and the CLI configuration into a
// new temporary folder and runs terraform init there. A missing terraform
// fails the test with a hint.
func newTerraform(tb testing.TB, cfg []byte) *terraform {
	bin, err := exec.LookPath("terraform")
	if err != nil {
		tb.Fatalf("terraform is required (Terraform 1.11 with hashicorp/aws %s in %s): %v", tfProviderVersion, tfProviderMirror, err)
	}
	if _, err := os.Stat(filepath.Join(tfProviderMirror, "registry.terraform.io/hashicorp/aws", tfProviderVersion)); err != nil {
		tb.Fatalf("the hashicorp/aws provider %s must be in the filesystem mirror %s: %v", tfProviderVersion, tfProviderMirror, err)
	}
	tf := &terraform{bin: bin, dir: tb.TempDir()}
	cli := filepath.Join(tf.dir, "cli.tfrc")
	if err := os.WriteFile(cli, fmt.Appendf(nil, "provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", tfProviderMirror), 0o644); err != nil {
		tb.Fatal(err)
	}
	work := filepath.Join(tf.dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf.json"), cfg, 0o644); err != nil {
		tb.Fatal(err)
	}
	tf.dir = work
	// The caller's AWS and Terraform settings are dropped, except TF_LOG and
	// TF_LOG_PATH (an absolute path), which show by hand where an apply's
	// time goes (TF_LOG=DEBUG logs every AWS call and wait with its time).
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_") && (!strings.HasPrefix(e, "TF_") || strings.HasPrefix(e, "TF_LOG=") || strings.HasPrefix(e, "TF_LOG_PATH=")) {
			tf.env = append(tf.env, e)
		}
	}
	tf.env = append(tf.env, "TF_CLI_CONFIG_FILE="+cli, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
	if _, err := tf.run("init", "-input=false", "-no-color"); err != nil {
		tb.Fatal(err)
	}
	return tf
}

// run runs terraform with args and returns its exit code; an exit code
// other than 0 and 2 (plan -detailed-exitcode: changes) is an error holding
// the output's tail.
func (tf *terraform) run(args ...string) (int, error) {
	cmd := exec.Command(tf.bin, args...)
	cmd.Dir, cmd.Env = tf.dir, tf.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		return 2, nil
	}
	if err != nil {
		tail := out.String()
		if len(tail) > 4000 {
			tail = "…" + tail[len(tail)-4000:]
		}
		return 0, fmt.Errorf("terraform %s in %s: %v\n%s", strings.Join(args, " "), tf.dir, err, tail)
	}
	return 0, nil
}

// apply runs terraform apply without asking, with extra flags.
func (tf *terraform) apply(tb testing.TB, flags ...string) {
	if _, err := tf.run(append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, flags...)...); err != nil {
		tb.Fatal(err)
	}
}

// removeState drops terraform's state, so the next apply creates everything.
func (tf *terraform) removeState(tb testing.TB) {
	for _, f := range []string{"terraform.tfstate", "terraform.tfstate.backup"} {
		if err := os.Remove(filepath.Join(tf.dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			tb.Fatal(err)
		}
	}
}

// write generates the fleet's configuration again into tf's main.tf.json.
func (tf *terraform) write(tb testing.TB, f *awsFleet) {
	cfg, err := terraformConfig(f.desired, f.tfInputs(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tf.dir, "main.tf.json"), cfg, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// terraformFor generates the fleet's configuration against its current
// moto state (hosted zone, load balancers) and initialises terraform for it.
func (f *awsFleet) terraformFor(tb testing.TB) *terraform {
	cfg, err := terraformConfig(f.desired, f.tfInputs(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return newTerraform(tb, cfg)
}

// tfInputs reads the hosted zone's ID from moto and takes the load
// balancers createNLBs made.
func (f *awsFleet) tfInputs(tb testing.TB) tfInputs {
	endpoint := f.moto.URL
	if f.proxy != nil {
		endpoint = f.proxy.URL
	}
	return tfInputs{endpoint: endpoint, zoneID: f.zoneID(tb), nlbs: f.nlbs}
}

// zoneID is the ID of the fleet's hosted zone, without "/hostedzone/".
func (f *awsFleet) zoneID(tb testing.TB) string {
	name := f.desired.Regions[0].HostedZone
	out, err := route53.NewFromConfig(f.cfg).ListHostedZonesByName(context.Background(), &route53.ListHostedZonesByNameInput{DNSName: aws.String(name)})
	if err != nil {
		tb.Fatal(err)
	}
	for _, z := range out.HostedZones {
		if strings.TrimSuffix(aws.ToString(z.Name), ".") == strings.TrimSuffix(name, ".") {
			return strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/")
		}
	}
	tb.Fatalf("hosted zone %q not found in moto", name)
	return ""
}
