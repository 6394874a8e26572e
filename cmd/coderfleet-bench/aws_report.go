package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The AWS side of the report (issues 14 and 16): the Go benchmarks of
// bench/ that run sync and Terraform against moto_server, read from
// `make bench-aws`'s output (bench/gobench-aws.txt).

// awsBenchmarks are the benchmarks of the AWS side, in report order, with
// what each measures.
var awsBenchmarks = []struct{ name, what string }{
	{"BenchmarkStatus", "coderfleet status (sync.ReadStatus), onboarded fleet, no delay"},
	{"BenchmarkSyncPlanNoop", "sync plan, nothing to change, 50 ms per call"},
	{"BenchmarkSyncApplyNoop", "sync apply, nothing to change, 50 ms per call"},
	{"BenchmarkTerraformPlanNoop", "terraform plan after terraform apply, 50 ms per call"},
	{"BenchmarkSyncApplyNew", "sync apply of a new fleet (certificates until ISSUED, validation records, health checks, records, IAM roles), 50 ms per call"},
	{"BenchmarkTerraformApplyNew", "terraform apply of the same new fleet (certificates until ISSUED, validation records, health checks, records), 50 ms per call"},
}

// readAWSBench reads `go test -bench` output of the AWS benchmarks; a
// missing file is a note on log and no section, not an error.
func readAWSBench(path string, log io.Writer) ([]goBench, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(log, "coderfleet-bench: note: %q does not exist; the report has no AWS section (run `make bench-aws`)\n", path)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	return parseGoBench(data), nil
}

// awsBench finds a benchmark by name, whatever its -GOMAXPROCS suffix; nil
// when it did not run.
func awsBench(gs []goBench, name string) *goBench {
	for i := range gs {
		if n, _, _ := strings.Cut(gs[i].name, "-"); n == name || gs[i].name == name {
			return &gs[i]
		}
	}
	return nil
}

// awsTargets evaluates the targets of issue 14 item 3 and issue 16 items
// 3-5 on the benchmarks' medians; a target whose benchmark is absent is
// "not measured".
func awsTargets(gs []goBench) []target {
	none := func(name string) target { return target{name: name, measured: "–", verdict: "not measured"} }
	msOf := func(name string) (float64, bool) {
		g := awsBench(gs, name)
		if g == nil || len(g.values["median-ms"]) == 0 {
			return 0, false
		}
		return g.med("median-ms"), true
	}
	var out []target
	add := func(name string, ok bool, measured string, met bool) {
		if !ok {
			out = append(out, none(name))
			return
		}
		out = append(out, target{name, measured, verdict(met)})
	}
	status, okStatus := msOf("BenchmarkStatus")
	add("status of 100 regions < 2 s (issue 14)", okStatus, fmt.Sprintf("%.0f ms", status), status < 2000)
	plan, okPlan := msOf("BenchmarkSyncPlanNoop")
	add("no-op sync plan, 50 ms per call, < 3 s (issue 16.3)", okPlan, fmt.Sprintf("%.0f ms", plan), plan < 3000)
	apply, okApply := msOf("BenchmarkSyncApplyNoop")
	add("no-op sync apply ≤ its plan (issue 16.3)", okPlan && okApply, fmt.Sprintf("%.0f ms vs %.0f ms", apply, plan), apply <= plan)
	if g := awsBench(gs, "BenchmarkSyncApplyNoop"); g != nil && len(g.values["mutating-calls/op"]) > 0 {
		m := g.med("mutating-calls/op")
		add("no-op sync apply changes nothing (issue 16.3)", true, fmt.Sprintf("%.0f mutating calls", m), m == 0)
	}
	q, tfPlan, syncPlan, okRatio := planRatio(gs)
	add(planRatioTarget, okRatio, fmt.Sprintf("terraform plan / sync plan = %.1f× (%.0f ms / %.0f ms)", q, tfPlan, syncPlan), q >= minPlanRatio)
	syncNew, tfNew := awsBench(gs, "BenchmarkSyncApplyNew"), awsBench(gs, "BenchmarkTerraformApplyNew")
	if syncNew != nil && len(syncNew.values["min-batches/op"]) > 0 {
		got, least := syncNew.med("change-batches/op"), syncNew.med("min-batches/op")
		measured := fmt.Sprintf("%.0f batches, fewest possible %.0f", got, least)
		if tfNew != nil {
			measured += fmt.Sprintf("; Terraform %.0f", tfNew.med("change-batches/op"))
		}
		add("sync apply of a new fleet: fewest ChangeResourceRecordSets the limits allow (issue 16.5)", true, measured, got <= least)
	} else {
		out = append(out, none("sync apply of a new fleet: fewest ChangeResourceRecordSets the limits allow (issue 16.5)"))
	}
	return out
}

// planRatioTarget is issue 16.4's target: a no-op sync plan at least
// minPlanRatio times faster than terraform plan of the same objects.
const (
	planRatioTarget = "sync plan ≥ 5× faster than terraform plan (issue 16.4)"
	minPlanRatio    = 5.0
)

// planRatio is terraform plan's median over sync plan's (both no-op, 50 ms
// per call) with the two medians in ms; ok is false unless both ran.
func planRatio(gs []goBench) (q, tfPlan, plan float64, ok bool) {
	sp, tp := awsBench(gs, "BenchmarkSyncPlanNoop"), awsBench(gs, "BenchmarkTerraformPlanNoop")
	if sp == nil || tp == nil || len(sp.values["median-ms"]) == 0 || len(tp.values["median-ms"]) == 0 || sp.med("median-ms") <= 0 {
		return 0, 0, 0, false
	}
	tfPlan, plan = tp.med("median-ms"), sp.med("median-ms")
	return tfPlan / plan, tfPlan, plan, true
}

// awsSection renders the AWS side as Markdown; "" without benchmarks.
func awsSection(gs []goBench, file string) string {
	if len(gs) == 0 {
		return ""
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("\n## AWS side\n\n")
	p("`make bench-aws` (raw output: `%s`): Go benchmarks of `./bench` against moto_server; median of the iterations' wall times, AWS calls and `ChangeResourceRecordSets` batches per iteration (medians over the counts).\n\n", file)
	p("| benchmark | what | regions | median | AWS calls/op | change batches/op |\n|---|---|---:|---:|---:|---:|\n")
	for _, a := range awsBenchmarks {
		g := awsBench(gs, a.name)
		if g == nil {
			p("| %s | %s | – | not measured | – | – |\n", a.name, a.what)
			continue
		}
		regions := num(g.med("regions"), "%.0f")
		if a.name == "BenchmarkStatus" && regions == "–" {
			regions = num(g.med("serving-regions"), "%.0f serving")
		}
		p("| %s | %s | %s | %s | %s | %s |\n", a.name, a.what, regions, num(g.med("median-ms"), "%.0f ms"), num(g.med("aws-calls/op"), "%.0f"), num(g.med("change-batches/op"), "%.0f"))
	}
	if q, tfPlan, plan, ok := planRatio(gs); ok {
		p("\nNo-op plan, sync beside Terraform: %.0f ms vs %.0f ms wall time (terraform plan / sync plan = %.1f×, target ≥ %.0f×: **%s**), %s vs %s AWS calls.\n",
			plan, tfPlan, q, minPlanRatio, verdict(q >= minPlanRatio),
			num(awsBench(gs, "BenchmarkSyncPlanNoop").med("aws-calls/op"), "%.0f"), num(awsBench(gs, "BenchmarkTerraformPlanNoop").med("aws-calls/op"), "%.0f"))
	}
	syncNew, tfNew := awsBench(gs, "BenchmarkSyncApplyNew"), awsBench(gs, "BenchmarkTerraformApplyNew")
	if syncNew != nil && tfNew != nil {
		ratio := ""
		if s, t := syncNew.med("median-ms"), tfNew.med("median-ms"); s > 0 && t > 0 {
			ratio = fmt.Sprintf(" (terraform apply / sync apply = %.1f×)", t/s)
		}
		p("\nApply of a new fleet, sync beside Terraform: %s vs %s wall time%s, %s vs %s AWS calls, %s vs %s change batches.\n",
			num(syncNew.med("median-ms"), "%.0f ms"), num(tfNew.med("median-ms"), "%.0f ms"), ratio, num(syncNew.med("aws-calls/op"), "%.0f"), num(tfNew.med("aws-calls/op"), "%.0f"),
			num(syncNew.med("change-batches/op"), "%.0f"), num(tfNew.med("change-batches/op"), "%.0f"))
	}
	p("\n### Targets of issues 14 and 16 (AWS side)\n\n| target | measured | |\n|---|---|---|\n")
	for _, t := range awsTargets(gs) {
		p("| %s | %s | **%s** |\n", t.name, t.measured, t.verdict)
	}
	p("\n### How the AWS side is measured\n\n")
	p("Each benchmark runs against its own moto_server (`MOTO_ACM_VALIDATION_WAIT=1`: certificates are ISSUED one second after the request) with a synthetic fleet (`internal/synth`, 100 regions unless `CODERFLEET_BENCH_REGIONS` says otherwise, the size in the table). ")
	p("Except for status, every AWS call goes through a loopback proxy (`internal/awscalls`) that holds it 50 ms, as a CI runner far from the AWS region sees, and counts it by operation; the call counts are the proxy's. ")
	p("Terraform is Terraform 1.11 with the hashicorp/aws 5.100 provider from the local filesystem mirror, its endpoints (ACM, Route53, STS, IAM, ELBv2) at the same proxy. ")
	p("Its configuration (`main.tf.json`) is generated from the same desired state sync reads (`regions/<region>/aws/`), written as a Terraform user would: one aliased provider per AWS region for ACM, `aws_acm_certificate` with DNS validation, `aws_route53_record` with `for_each` over `domain_validation_options` and `allow_overwrite`, `aws_acm_certificate_validation`, `aws_route53_health_check`, and `aws_route53_record` aliases (latency routing and health checks where the desired state has them) to the load balancers, whose DNS names and the hosted zone's ID are literal values read before generating (so Terraform makes no calls to find them, while sync finds the load balancers by their tags). ")
	p("`terraform plan` runs with its default refresh and parallelism (10), 3 times after an untimed `terraform apply -parallelism=64` made the fleet (at 10 that setup alone takes 15-30 minutes: the provider waits a fixed 15 s before its first GetChange of each record's change). ")
	p("`terraform apply` of a new fleet runs once (`-benchtime 1x`, a second `go test` in `make bench-aws`), with the default parallelism (10) a user gets. ")
	p("`TestTerraformDescribesDesiredState` (run by `make test`) checks that both describe the same objects: a 3-region fleet applied by terraform in one moto and by sync apply in another must leave the same certificates (AWS region, names, status ISSUED), health checks (type, name, port, path, interval), alias records (name, type, set identifier, latency region, target, health check) and number of validation CNAMEs; sync's own TXT records (ownership markers and the fleet registry) have no Terraform counterpart, and sync also creates the IAM roles of `roles.yaml`. ")
	p("Apply of a new fleet starts each iteration from a reset moto holding only the hosted zone, the EKS clusters and the load balancers, without Terraform state; \"fewest possible\" batches is the registry record's own batch plus the fewest batches of 1000 record values and 32000 characters that hold every other record the apply created.\n")
	return b.String()
}
