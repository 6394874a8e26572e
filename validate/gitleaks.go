package validate

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	leakconfig "github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
)

// minLeakLen is the length below which a value is not given to gitleaks:
// the token formats its default rules know (GitHub, GitLab, Slack, Stripe,
// Google, OpenAI, Anthropic, ...) are all longer.
const minLeakLen = 16

// memoLimit bounds how many distinct values the detector remembers. Values
// repeat across the regions of a fleet, so most are scanned once per render.
const memoLimit = 1 << 16

// leakDetector runs gitleaks' default rule set
// (github.com/zricethezav/gitleaks/v8, config/gitleaks.toml) over single
// values. It is safe for concurrent use.
type leakDetector struct {
	det *detect.Detector
	// keywords holds every rule's keywords, lower-case: gitleaks runs a rule
	// only when the text holds one of them, so a value holding none cannot
	// match and is not scanned at all.
	keywords *keywordSet

	mu   sync.Mutex
	memo map[string]leak
}

// leak is what gitleaks found in a value: the rule's id and the matched
// secret; the zero leak means nothing was found.
type leak struct {
	rule, secret string
}

// leaks returns the one detector of the process, built on first use
// (compiling the ~220 rules takes a tenth of a second).
var leaks = sync.OnceValue(func() *leakDetector {
	d, err := newLeakDetector()
	if err != nil {
		// The rules are compiled into the gitleaks module; a failure is a
		// broken build, which every test of the secret guard catches.
		panic("validate: loading gitleaks' default rules: " + err.Error())
	}
	return d
})

// Warm builds what validation builds on first use (the secret guard's
// compiled gitleaks rules), so that a caller can start it beside other
// work; validating without it is as correct, only the first object waits.
func Warm() { leaks() }

// newLeakDetector builds gitleaks' default configuration
// (leakconfig.DefaultConfig, its embedded gitleaks.toml) into a detector.
// The TOML is decoded into gitleaks' own ViperConfig with BurntSushi/toml,
// not through a viper instance as gitleaks does: the same structure (a
// test compares the two decodings), in a third of the time, and no viper
// global state; gitleaks' Translate then compiles the rules as it always
// does, so no rule is dropped.
func newLeakDetector() (*leakDetector, error) {
	var vc leakconfig.ViperConfig
	if _, err := toml.Decode(leakconfig.DefaultConfig, &vc); err != nil {
		return nil, err
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, err
	}
	kw := slices.Sorted(maps.Keys(cfg.Keywords))
	return &leakDetector{
		det:      detect.NewDetector(cfg),
		keywords: newKeywordSet(kw),
		memo:     map[string]leak{},
	}, nil
}

// find returns the first gitleaks finding in s, or the zero leak.
func (d *leakDetector) find(s string) leak {
	if len(s) < minLeakLen || !d.keywords.in(strings.ToLower(s)) {
		return leak{}
	}
	d.mu.Lock()
	l, ok := d.memo[s]
	d.mu.Unlock()
	if ok {
		return l
	}
	for _, f := range d.det.DetectString(s) {
		l = leak{rule: f.RuleID, secret: f.Secret}
		break
	}
	d.mu.Lock()
	if len(d.memo) < memoLimit {
		d.memo[s] = l
	}
	d.mu.Unlock()
	return l
}

// keywordSet answers whether a text holds any of a set of words. It does
// what an Aho-Corasick trie over the words would, for the few hundred short
// words of gitleaks' rules, but is built in microseconds where gitleaks'
// trie takes milliseconds: a bit per two-byte word prefix finds the
// positions where a word may start, and only there are the words with that
// prefix compared.
type keywordSet struct {
	starts   [1 << 16 / 64]uint64 // bit p: some word starts with the bytes p>>8, p&0xff
	byPrefix map[uint16][]string  // words of two bytes or more, by their first two
	short    []string             // words of fewer than two bytes
}

func newKeywordSet(words []string) *keywordSet {
	ks := &keywordSet{byPrefix: map[uint16][]string{}}
	for _, w := range words {
		if len(w) < 2 {
			ks.short = append(ks.short, w)
			continue
		}
		p := uint16(w[0])<<8 | uint16(w[1])
		ks.starts[p/64] |= 1 << (p % 64)
		ks.byPrefix[p] = append(ks.byPrefix[p], w)
	}
	return ks
}

// in reports whether s holds one of the words.
func (ks *keywordSet) in(s string) bool {
	for _, w := range ks.short {
		if strings.Contains(s, w) {
			return true
		}
	}
	for i := 0; i+1 < len(s); i++ {
		p := uint16(s[i])<<8 | uint16(s[i+1])
		if ks.starts[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		for _, w := range ks.byPrefix[p] {
			if strings.HasPrefix(s[i:], w) {
				return true
			}
		}
	}
	return false
}
