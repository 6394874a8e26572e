package validate

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/spf13/viper"
	leakconfig "github.com/zricethezav/gitleaks/v8/config"
)

// TestKeywordSetFindsWhatASearchFinds compares keywordSet with a plain
// search for every keyword, over gitleaks' own keywords: texts made of
// keywords, their fragments and other bytes, at every position.
func TestKeywordSetFindsWhatASearchFinds(t *testing.T) {
	d := leaks()
	var words []string // as gitleaks' configuration lists them
	for w := range d.det.Config.Keywords {
		words = append(words, w)
	}
	if len(words) < 100 {
		t.Fatalf("gitleaks' rules gave %d keywords, want their few hundred", len(words))
	}
	contains := func(s string) bool {
		for _, w := range words {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"-", "_", ".", "/", "x", "coder", "proxy", "0123", "é"}
	for _, w := range words {
		pieces = append(pieces, w, w[:len(w)-1], w[1:])
	}
	found := 0
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		want := contains(s)
		if got := d.keywords.in(s); got != want {
			t.Fatalf("keywordSet.in(%q) = %v, a search for every keyword says %v", s, got, want)
		}
		if want {
			found++
		}
	}
	if found == 0 || found == 20000 {
		t.Fatalf("%d of 20000 texts held a keyword: the test texts do not exercise both answers", found)
	}
	for _, s := range []string{"", "a", "ghp_", "GHP_"} {
		if got, want := d.keywords.in(s), contains(s); got != want {
			t.Errorf("keywordSet.in(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestLeakConfigDecodesAsViperDoes: newLeakDetector decodes gitleaks'
// default TOML with BurntSushi/toml; the structure must be the one gitleaks'
// own loader (viper, case-insensitive mapstructure) builds, every rule,
// keyword, allowlist and stop word included.
func TestLeakConfigDecodesAsViperDoes(t *testing.T) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(leakconfig.DefaultConfig)); err != nil {
		t.Fatal(err)
	}
	var want leakconfig.ViperConfig
	if err := v.Unmarshal(&want); err != nil {
		t.Fatal(err)
	}
	var got leakconfig.ViperConfig
	md, err := toml.Decode(leakconfig.DefaultConfig, &got)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Errorf("keys of gitleaks.toml not decoded: %v", u)
	}
	if len(got.Rules) < 200 {
		t.Fatalf("decoded %d rules, want gitleaks' ~220", len(got.Rules))
	}
	if !reflect.DeepEqual(got, want) {
		for i := range min(len(got.Rules), len(want.Rules)) {
			if !reflect.DeepEqual(got.Rules[i], want.Rules[i]) {
				t.Errorf("rule %d differs:\n toml  %+v\n viper %+v", i, got.Rules[i], want.Rules[i])
			}
		}
		t.Fatalf("the decodings differ (%d rules by toml, %d by viper)", len(got.Rules), len(want.Rules))
	}
}
