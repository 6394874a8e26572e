package sync

import (
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// BatchLimits bound one ChangeResourceRecordSets request. An UPSERT counts
// twice, as Route53 counts it.
type BatchLimits struct {
	// MaxElements is the most ResourceRecord elements per batch.
	MaxElements int
	// MaxChars is the most characters of values per batch.
	MaxChars int
}

// DefaultBatchLimits are Route53's documented limits.
var DefaultBatchLimits = BatchLimits{MaxElements: 1000, MaxChars: 32000}

// batchCost returns the elements and characters a change counts for.
func batchCost(c r53types.Change) (elements, chars int) {
	rr := c.ResourceRecordSet
	elements = 1
	if rr != nil && len(rr.ResourceRecords) > 0 {
		elements = len(rr.ResourceRecords)
		for _, v := range rr.ResourceRecords {
			chars += len(deref(v.Value))
		}
	}
	if c.Action == r53types.ChangeActionUpsert {
		elements, chars = 2*elements, 2*chars
	}
	return elements, chars
}

// batches splits groups of changes (a record with its ownership TXT record)
// into as few batches as the limits allow, keeping each group whole and the
// order intact.
func batches(groups [][]r53types.Change, lim BatchLimits) [][]r53types.Change {
	var out [][]r53types.Change
	var cur []r53types.Change
	var elems, chars int
	for _, g := range groups {
		ge, gc := 0, 0
		for _, c := range g {
			e, ch := batchCost(c)
			ge, gc = ge+e, gc+ch
		}
		if len(cur) > 0 && (elems+ge > lim.MaxElements || chars+gc > lim.MaxChars) {
			out = append(out, cur)
			cur, elems, chars = nil, 0, 0
		}
		cur = append(cur, g...)
		elems, chars = elems+ge, chars+gc
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
