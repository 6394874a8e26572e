package validate

import (
	"maps"
	"slices"
	"strings"
	"sync"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
	"github.com/spf13/viper"
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
	keywords *ahocorasick.Trie

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

// newLeakDetector loads gitleaks' default configuration through a private
// viper instance (gitleaks' own NewDetectorDefaultConfig uses viper's
// global one, which is not safe to share).
func newLeakDetector() (*leakDetector, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(leakconfig.DefaultConfig)); err != nil {
		return nil, err
	}
	var vc leakconfig.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, err
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, err
	}
	kw := slices.Sorted(maps.Keys(cfg.Keywords))
	return &leakDetector{
		det:      detect.NewDetector(cfg),
		keywords: ahocorasick.NewTrieBuilder().AddStrings(kw).Build(),
		memo:     map[string]leak{},
	}, nil
}

// find returns the first gitleaks finding in s, or the zero leak.
func (d *leakDetector) find(s string) leak {
	if len(s) < minLeakLen || d.keywords.MatchFirstString(strings.ToLower(s)) == nil {
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
