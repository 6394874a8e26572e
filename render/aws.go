package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/coderfleet/coderfleet/awsstate"
	"github.com/coderfleet/coderfleet/internal/diag"
)

// awsList is one list of the templates' `aws` result: its key, the
// desired-state file it is written to and that file's kind.
type awsList struct {
	key  string
	file string
	kind awsstate.Kind
	// optional lists are written only when the templates return them.
	optional bool
}

// awsLists are the lists of `aws`, in the order they are written.
var awsLists = []awsList{
	{"certificates", awsstate.CertificatesFile, awsstate.KindCertificateList, false},
	{"healthChecks", awsstate.HealthChecksFile, awsstate.KindHealthCheckList, false},
	{"records", awsstate.RecordsFile, awsstate.KindRecordList, false},
	{"roles", awsstate.RolesFile, awsstate.KindRoleList, true},
	{"secrets", awsstate.SecretsFile, awsstate.KindSecretList, true},
}

// awsHostedZoneKey is the key of `aws` naming the records' Route53 zone.
const awsHostedZoneKey = "hostedZone"

// awsShapeHint is the hint of a problem in the templates' `aws` result.
const awsShapeHint = "main.jsonnet returns aws: {hostedZone, certificates, healthChecks, records, roles?, secrets?}, each item with the keys docs/sync.md (\"Format\") lists; templates/lib/aws.libsonnet builds them"

// awsState is a region's AWS desired state as the templates returned it,
// parsed: the files by name, as sync reads them.
type awsState map[string]*awsstate.File

// parseAWS checks the templates' `aws` result of region strictly, as sync
// reads the files (awsstate.Parse), and returns it. fleet is the fleet's
// name, written into each file's header. A problem is an input error
// naming templates/main.jsonnet and the key path (aws.records[2].alias).
func parseAWS(fleet, region string, raw json.RawMessage) (awsState, error) {
	fail := func(key, msg string) error {
		return &Error{Region: region, File: EntryPoint, Key: key, Msg: msg, Hint: awsShapeHint}
	}
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, fail("aws", "the template returned no aws: the region's AWS desired state")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fail("aws", "must be an object")
	}
	known := []string{awsHostedZoneKey}
	for _, l := range awsLists {
		known = append(known, l.key)
	}
	var errs Errors
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if !slices.Contains(known, k) {
			errs = append(errs, fail("aws."+k, fmt.Sprintf("unknown key %q (known: %s)", k, strings.Join(known, ", "))).(*Error))
		}
	}
	if _, ok := top[awsHostedZoneKey]; !ok {
		errs = append(errs, fail("aws."+awsHostedZoneKey, "missing: the Route53 zone of the region's records").(*Error))
	}
	state := awsState{}
	for _, l := range awsLists {
		list, ok := top[l.key]
		if !ok {
			if !l.optional {
				errs = append(errs, fail("aws."+l.key, "missing (an empty list when the region has none)").(*Error))
			}
			continue
		}
		doc := map[string]json.RawMessage{l.key: list}
		for k, v := range map[string]string{"apiVersion": awsstate.APIVersion, "kind": string(l.kind), "fleet": fleet, "region": region} {
			doc[k], _ = json.Marshal(v)
		}
		if l.kind == awsstate.KindRecordList && top[awsHostedZoneKey] != nil {
			doc[awsHostedZoneKey] = top[awsHostedZoneKey]
		}
		js, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("region %s: encoding aws.%s: %w", region, l.key, err)
		}
		data, err := yaml.JSONToYAML(js)
		if err != nil {
			return nil, fmt.Errorf("region %s: encoding aws.%s: %w", region, l.key, err)
		}
		f, err := awsstate.Parse(l.file, data)
		if err != nil {
			errs = append(errs, templateProblems(region, err)...)
			continue
		}
		state[l.file] = f
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return state, nil
}

// templateProblems places the problems awsstate.Parse found in a file
// built from the templates' `aws` result at templates/main.jsonnet and the
// key path under aws (the file's lines are not the user's).
func templateProblems(region string, err error) Errors {
	var out Errors
	for _, p := range diag.All(err) {
		e := *p
		e.File, e.Line, e.Col, e.BareKey, e.Region = EntryPoint, 0, 0, false, region
		e.Key = "aws." + e.Key
		if e.Key == "aws." {
			e.Key = "aws"
		}
		if e.Hint == "" || strings.Contains(e.Hint, "coderfleet render") {
			e.Hint = awsShapeHint
		}
		out = append(out, &e)
	}
	if len(out) == 0 {
		out = Errors{{Region: region, File: EntryPoint, Key: "aws", Msg: err.Error(), Hint: awsShapeHint}}
	}
	return out
}

// files returns the desired-state files of s, by file name, in
// awsstate.Marshal's canonical layout.
func (s awsState) files() (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, f := range s {
		b, err := awsstate.Marshal(*f)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}
