package config_test

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/coderfleet/coderfleet/config"
)

// TestEveryKeyIsDocumented keeps overlays/README.md complete: every key of
// fleet.yaml and region.yaml must appear there in backticks.
func TestEveryKeyIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../overlays/README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	var walk func(tp reflect.Type, path string)
	walk = func(tp reflect.Type, path string) {
		for tp.Kind() == reflect.Pointer || tp.Kind() == reflect.Slice || tp.Kind() == reflect.Map {
			tp = tp.Elem()
		}
		if tp.Kind() != reflect.Struct || seen[tp] || tp.PkgPath() != reflect.TypeOf(config.Fleet{}).PkgPath() {
			return
		}
		seen[tp] = true
		for i := 0; i < tp.NumField(); i++ {
			f := tp.Field(i)
			if f.Anonymous {
				walk(f.Type, path)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			re := regexp.MustCompile("`[^`\n]*\\b" + regexp.QuoteMeta(name) + "\\b[^`\n]*`")
			if !re.Match(doc) {
				t.Errorf("key %q (%s%s) is not documented in overlays/README.md", name, path, name)
			}
			walk(f.Type, path+name+".")
		}
	}
	walk(reflect.TypeOf(config.Fleet{}), "")
	walk(reflect.TypeOf(config.Region{}), "")
}
