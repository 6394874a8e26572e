package reviewdiff

import (
	"reflect"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/coderfleet/coderfleet/awsstate"
)

// awsItem is one item of a desired-state file as a plain value.
type awsItem struct {
	typ, key, detail, file string
	value                  any
}

// awsSide is what one side's aws/ folder holds: items by type and key,
// and the files' own keys.
type awsSide struct {
	items   map[string]awsItem // type + "\x00" + key
	headers map[string]any     // file -> {fleet, region, hostedZone}
}

// parseAWS parses every desired-state file; bad collects the paths that
// are not valid documents.
func parseAWS(files map[string][]byte, bad map[string]bool) map[string]*awsstate.File {
	out := map[string]*awsstate.File{}
	for p, data := range files {
		f, err := awsstate.Parse(p, data)
		if err != nil {
			bad[p] = true
			continue
		}
		out[p] = f
	}
	return out
}

// readAWS collects the items of the parsed files, skipping those in skip.
func readAWS(files map[string]*awsstate.File, skip map[string]bool) awsSide {
	s := awsSide{items: map[string]awsItem{}, headers: map[string]any{}}
	for p, f := range files {
		if skip[p] {
			continue
		}
		header := map[string]any{"fleet": f.Fleet, "region": f.Region}
		if f.Kind == awsstate.KindRecordList {
			header["hostedZone"] = f.HostedZone
		}
		s.headers[p] = header
		add := func(typ, key, detail string, v any) {
			s.items[typ+"\x00"+key] = awsItem{typ: typ, key: key, detail: detail, file: p, value: plain(v)}
		}
		for _, c := range f.Certificates {
			add(TypeCertificate, c.Name, c.DomainName, c)
		}
		for _, h := range f.HealthChecks {
			add(TypeHealthCheck, h.Name, h.FQDN, h)
		}
		for _, r := range f.Records {
			add(TypeRecord, r.Key(), "alias "+r.Alias.Service+" in "+r.Alias.Cluster, r)
		}
		for _, r := range f.Roles {
			add(TypeRole, r.Name, "ServiceAccount "+r.ServiceAccount.Namespace+"/"+r.ServiceAccount.Name, r)
		}
		for _, sec := range f.Secrets {
			add(TypeSecret, sec.Name, sec.AWSRegion, sec)
		}
		for _, wp := range f.WorkspaceProxies {
			add(TypeWorkspaceProxy, wp.Name, wp.DisplayName, wp)
		}
		for _, k := range f.ProvisionerKeys {
			add(TypeProvisionerKey, k.Organization+"/"+k.Name, "tags "+tagsText(k.Tags), k)
		}
	}
	return s
}

// tagsText is tags as "k=v,k=v", sorted by key.
func tagsText(tags map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(tags) {
		parts = append(parts, k+"="+tags[k])
	}
	return strings.Join(parts, ",")
}

// plain turns a desired-state struct into the value its YAML form decodes to.
func plain(v any) any {
	data, err := yaml.Marshal(v)
	if err != nil {
		return nil
	}
	docs, err := decodeAll(data)
	if err != nil || len(docs) != 1 {
		return nil
	}
	return docs[0]
}

// typeOrder puts certificates first (they are made first), then health
// checks, records, IAM roles, secrets, and Coder's workspace proxies and
// provisioner keys.
var typeOrder = map[string]int{TypeFile: 0, TypeCertificate: 1, TypeHealthCheck: 2, TypeRecord: 3, TypeRole: 4, TypeSecret: 5,
	TypeWorkspaceProxy: 6, TypeProvisionerKey: 7}

// diffAWS compares the aws/ files of a region. Files that are not valid
// desired-state documents are returned as whole-file changes.
func diffAWS(base, head map[string][]byte) ([]AWSItem, []File) {
	// A file that is not a valid document on either side is compared
	// as a whole on both, so its items are not reported twice.
	bad := map[string]bool{}
	bf, hf := parseAWS(base, bad), parseAWS(head, bad)
	b, h := readAWS(bf, bad), readAWS(hf, bad)
	var items []AWSItem
	for _, p := range unionKeys(b.headers, h.headers) {
		bh, okB := b.headers[p]
		hh, okH := h.headers[p]
		if okB && okH && !reflect.DeepEqual(bh, hh) {
			it := AWSItem{Change: Changed, Type: TypeFile, Key: p, File: p}
			diffValue("", bh, hh, &it.Fields)
			items = append(items, it)
		}
	}
	for _, k := range unionKeys(b.items, h.items) {
		bi, okB := b.items[k]
		hi, okH := h.items[k]
		switch {
		case !okB:
			items = append(items, AWSItem{Change: Added, Type: hi.typ, Key: hi.key, Detail: hi.detail, File: hi.file})
		case !okH:
			items = append(items, AWSItem{Change: Removed, Type: bi.typ, Key: bi.key, Detail: bi.detail, File: bi.file})
		case !reflect.DeepEqual(bi.value, hi.value) || bi.file != hi.file:
			it := AWSItem{Change: Changed, Type: hi.typ, Key: hi.key, Detail: hi.detail, File: hi.file}
			diffValue("", bi.value, hi.value, &it.Fields)
			items = append(items, it)
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].Type != items[j].Type {
			return typeOrder[items[i].Type] < typeOrder[items[j].Type]
		}
		return items[i].Key < items[j].Key
	})
	var files []File
	for _, p := range sortedKeys(bad) {
		bd, okB := base[p]
		hd, okH := head[p]
		if f, ok := diffFile(p, bd, okB, hd, okH); ok {
			files = append(files, f)
		}
	}
	return items, files
}
