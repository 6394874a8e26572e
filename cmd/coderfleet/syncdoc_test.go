package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/coderfleet/coderfleet/internal/testfleet"
	fleetsync "github.com/coderfleet/coderfleet/sync"
)

// The fenced blocks of docs/sync.md's "Full session" carry their role in
// the info string: ```sh session-<kind>.
const (
	sessionMoto       = "moto"       // how the reader starts moto_server
	sessionEnv        = "env"        // the environment every later step uses
	sessionSetup      = "setup"      // AWS setup with the aws CLI
	sessionCoderfleet = "coderfleet" // `$ coderfleet ...` lines, their output and `[exit N]`
)

// sessionBlocks returns the session blocks of a Markdown file by kind, in
// document order.
func sessionBlocks(t *testing.T, file string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string][]string{}
	var kind string
	var body strings.Builder
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "```"):
			in = true
			kind = ""
			if f := strings.Fields(strings.TrimPrefix(line, "```")); len(f) == 2 && f[0] == "sh" && strings.HasPrefix(f[1], "session-") {
				kind = strings.TrimPrefix(f[1], "session-")
			}
			body.Reset()
		case in && line == "```":
			in = false
			if kind != "" {
				blocks[kind] = append(blocks[kind], body.String())
			}
		case in:
			body.WriteString(line + "\n")
		}
	}
	for _, k := range []string{sessionMoto, sessionEnv, sessionSetup, sessionCoderfleet} {
		if len(blocks[k]) == 0 {
			t.Fatalf("%s has no ```sh session-%s block", file, k)
		}
	}
	return blocks
}

// motoCommand reads the environment assignments and the port of the one
// moto_server command of the moto block.
func motoCommand(t *testing.T, blocks []string) (env []string, port string) {
	t.Helper()
	if len(blocks) != 1 {
		t.Fatalf("want one session-moto block, got %d", len(blocks))
	}
	f := strings.Fields(blocks[0])
	i := slices.Index(f, "moto_server")
	if i < 0 {
		t.Fatalf("the session-moto block runs no moto_server: %q", blocks[0])
	}
	for _, w := range f[:i] {
		if !strings.Contains(w, "=") {
			t.Fatalf("the session-moto block has %q before moto_server; only VAR=value is understood", w)
		}
		env = append(env, w)
	}
	if j := slices.Index(f, "-p"); j > i && j+1 < len(f) {
		port = f[j+1]
	}
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("the session-moto block gives moto_server no -p PORT: %q", blocks[0])
	}
	return env, port
}

// docCommand is one `$ coderfleet ...` step of the session with what the
// page says it prints and exits with.
type docCommand struct {
	args   []string // after "coderfleet"
	output []string
	exit   int
}

// coderfleetCommands parses the coderfleet blocks: each is a `$ coderfleet`
// line, its output, and `[exit N]`.
func coderfleetCommands(t *testing.T, blocks []string) []docCommand {
	t.Helper()
	var cmds []docCommand
	for _, b := range blocks {
		lines := strings.Split(strings.TrimSuffix(b, "\n"), "\n")
		first, last := lines[0], lines[len(lines)-1]
		cmdline, ok := strings.CutPrefix(first, "$ coderfleet ")
		var exit int
		if n, err := fmt.Sscanf(last, "[exit %d]", &exit); !ok || err != nil || n != 1 {
			t.Fatalf("a session-coderfleet block must start with `$ coderfleet ...` and end with `[exit N]`:\n%s", b)
		}
		cmds = append(cmds, docCommand{args: strings.Fields(cmdline), output: lines[1 : len(lines)-1], exit: exit})
	}
	return cmds
}

// volatile are the parts of sync's output that differ from run to run:
// moto's zone IDs, certificate UUIDs and EKS OIDC issuer IDs, and elapsed
// time.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`hosted zone [A-Z0-9]+`), "hosted zone ZONE"},
	{regexp.MustCompile(`certificate/[0-9a-f-]{36}`), "certificate/UUID"},
	{regexp.MustCompile(`\(\d+s of `), "(Ns of "},
	{regexp.MustCompile(`(oidc\.eks\.[a-z0-9-]+\.amazonaws\.com/id/)[A-Za-z0-9]+`), "${1}ID"},
}

func stable(line string) string {
	line = strings.TrimRight(line, " ")
	for _, v := range volatile {
		line = v.re.ReplaceAllString(line, v.with)
	}
	return line
}

// TestSyncDocSession runs docs/sync.md's "Full session": it starts moto as
// the page does, runs the page's environment and aws CLI setup blocks
// against it, checks the hosted zone, the foreign records and the NLBs with
// the tags sync looks for that they leave, then runs each `$ coderfleet`
// line of the page in the example fleet's repository and checks its exit
// code and that every line the page shows for it is printed (up to moto's
// IDs and elapsed times). `--auto-approve` is passed only when this build's
// `sync apply` has that flag.
func TestSyncDocSession(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("the aws CLI is required to run docs/sync.md's session (install it with: pip install awscli): %v", err)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash is required to run docs/sync.md's session: %v", err)
	}
	blocks := sessionBlocks(t, filepath.Join(testfleet.RepoRoot(t), "docs", "sync.md"))
	env, port := motoCommand(t, blocks[sessionMoto])
	moto := motoPool.ForTest(t, env...)
	awsEnv(t, moto.URL) // no ~/.aws, no instance metadata
	repo := exampleCopy(t)

	// The page's environment and setup, against this moto instead of the
	// page's port, in one shell; the environment it leaves is kept.
	docURL := "http://127.0.0.1:" + port
	envBlock := strings.Join(blocks[sessionEnv], "")
	if !strings.Contains(envBlock, docURL) {
		t.Fatalf("the session-env block does not point at moto's %s:\n%s", docURL, envBlock)
	}
	envFile := filepath.Join(t.TempDir(), "env")
	script := "set -euo pipefail\n" + envBlock + strings.Join(blocks[sessionSetup], "") + "env -0 > " + strconv.Quote(envFile) + "\n"
	sh := exec.Command("bash", "-c", strings.ReplaceAll(script, docURL, moto.URL))
	sh.Dir = repo
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "AWS_") || v != "" {
			sh.Env = append(sh.Env, kv) // the CLI takes AWS_PROFILE="" for a profile named ""
		}
	}
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("the setup blocks of docs/sync.md failed: %v\n%s", err, out)
	}
	shellEnv, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	for kv := range strings.SplitSeq(string(shellEnv), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "AWS_") && os.Getenv(k) != v {
			t.Setenv(k, v)
		}
	}
	if got := os.Getenv("AWS_ENDPOINT_URL"); got != moto.URL {
		t.Fatalf("after the session-env block AWS_ENDPOINT_URL is %q, want moto's %s", got, moto.URL)
	}

	zoneID, foreign := checkSessionZone(t)
	nlbs := checkSessionNLBs(t, repo)

	t.Chdir(repo) // the page runs coderfleet at the repository's root
	cmds := coderfleetCommands(t, blocks[sessionCoderfleet])
	for i, c := range cmds {
		args := c.args
		if slices.Equal(args[:min(2, len(args))], []string{"sync", "apply"}) {
			if !slices.Equal(args, []string{"sync", "apply", "--auto-approve"}) {
				t.Fatalf("the page's apply is `coderfleet %s`; keep it `coderfleet sync apply --auto-approve`", strings.Join(args, " "))
			}
		}
		code, out, errs := cli(t, args...)
		if code != c.exit {
			t.Fatalf("coderfleet %s: exit %d, the page says %d\n%s%s", strings.Join(args, " "), code, c.exit, out, errs)
		}
		printed := map[string]bool{}
		for _, l := range strings.Split(out+errs, "\n") {
			printed[stable(l)] = true
		}
		for _, l := range c.output {
			if l == "" || strings.HasPrefix(l, "(") || strings.HasPrefix(l, "waiting for certificate ") {
				continue // the page's own remarks; how often moto is polled
			}
			if !printed[stable(l)] {
				t.Errorf("coderfleet %s did not print the page's line\n  %s\noutput:\n%s%s", strings.Join(args, " "), l, out, errs)
			}
		}
		if i == 0 {
			// The first plan sees every NLB: a record to each, none waiting.
			for _, dns := range nlbs {
				if !strings.Contains(out, "alias:        "+dns+" ") && !strings.Contains(out, "alias:   "+dns+" ") {
					t.Errorf("the plan has no record aliasing the NLB %s:\n%s", dns, out)
				}
			}
			if !strings.Contains(out, " 0 waiting, 0 conflicts.") {
				t.Errorf("the plan waits for load balancers the setup created:\n%s", out)
			}
		}
	}
	zoneAfter, foreignAfter := checkSessionZone(t)
	if zoneAfter != zoneID {
		t.Errorf("the hosted zone changed from %s to %s", zoneID, zoneAfter)
	}
	if foreignAfter != foreign {
		t.Errorf("the foreign records changed:\nbefore %s\nafter  %s", foreign, foreignAfter)
	}
}

// checkSessionZone checks the session's hosted zone example.com exists once
// and holds the foreign MX and CNAME records; it returns the zone's ID and
// those records, printed.
func checkSessionZone(t *testing.T) (zoneID, foreign string) {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	api := route53.NewFromConfig(cfg)
	zones, err := api.ListHostedZonesByName(context.Background(), &route53.ListHostedZonesByNameInput{DNSName: aws.String("example.com")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, z := range zones.HostedZones {
		if aws.ToString(z.Name) == "example.com." && (z.Config == nil || !z.Config.PrivateZone) {
			ids = append(ids, aws.ToString(z.Id))
		}
	}
	if len(ids) != 1 {
		t.Fatalf("want one public hosted zone example.com after the page's setup, got %v", ids)
	}
	var parts []string
	for _, w := range []struct {
		name string
		typ  r53types.RRType
	}{{"example.com.", r53types.RRTypeMx}, {"www.example.com.", r53types.RRTypeCname}} {
		out, err := api.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{
			HostedZoneId: aws.String(ids[0]), StartRecordName: aws.String(w.name), StartRecordType: w.typ, MaxItems: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ResourceRecordSets) == 0 || aws.ToString(out.ResourceRecordSets[0].Name) != w.name || out.ResourceRecordSets[0].Type != w.typ {
			t.Fatalf("no foreign %s record %s in the zone", w.typ, w.name)
		}
		rr := out.ResourceRecordSets[0]
		var values []string
		for _, v := range rr.ResourceRecords {
			values = append(values, aws.ToString(v.Value))
		}
		parts = append(parts, fmt.Sprintf("%s %s %d %v", w.name, w.typ, aws.ToInt64(rr.TTL), values))
	}
	return ids[0], strings.Join(parts, "; ")
}

// checkSessionNLBs checks that for every load balancer the example fleet's
// records alias (regions/*/aws/records.yaml), exactly one NLB in its AWS
// region carries the tags sync finds it by, and returns their DNS names.
func checkSessionNLBs(t *testing.T, repo string) []string {
	t.Helper()
	desired, err := fleetsync.LoadDesired(os.DirFS(repo), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var names []string
	for _, r := range desired.Regions {
		for _, rec := range r.Records {
			a := rec.Alias
			key := a.AWSRegion + " " + a.Cluster + " " + a.Service
			if seen[key] {
				continue
			}
			seen[key] = true
			api := elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.Region = a.AWSRegion })
			lbs, err := api.DescribeLoadBalancers(context.Background(), &elbv2.DescribeLoadBalancersInput{})
			if err != nil {
				t.Fatal(err)
			}
			var match []string
			for _, lb := range lbs.LoadBalancers {
				tags, err := api.DescribeTags(context.Background(), &elbv2.DescribeTagsInput{ResourceArns: []string{aws.ToString(lb.LoadBalancerArn)}})
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]string{}
				for _, td := range tags.TagDescriptions {
					for _, tag := range td.Tags {
						got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
					}
				}
				if got["service.k8s.aws/stack"] == a.Service && got["elbv2.k8s.aws/cluster"] == a.Cluster && lb.Type == "network" {
					match = append(match, aws.ToString(lb.DNSName))
				}
			}
			if len(match) != 1 {
				t.Fatalf("want one NLB in %s tagged service.k8s.aws/stack=%s and elbv2.k8s.aws/cluster=%s after the page's setup, got %v",
					a.AWSRegion, a.Service, a.Cluster, match)
			}
			names = append(names, match[0])
		}
	}
	if len(names) == 0 {
		t.Fatal("the example fleet's records alias no load balancer")
	}
	return names
}
