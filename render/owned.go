package render

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/coderfleet/coderfleet/config"
)

// Owned is what the templates report for one settings key path: the names
// rendered output already uses there, which a user's setting may not name.
//
// The key path is dotted as in overlays/README.md, with `[]` for every item
// of a list and `*` for every entry of a map ("workspaceNamespaces[].name",
// "addons.*.namespace"). Where the setting is a string, its value is the
// name; where it is a mapping (an env map, Helm values), each of its dotted
// leaf paths is one, and a name collides when it equals an owned one or one
// of the two is the other's parent ("settings" replaces
// "settings.clusterName").
//
// A key path starting with "region." names a key of the region's own
// region.yaml instead ("region.name": the region's name).
type Owned struct {
	// Hint is what the user should do instead.
	Hint string `json:"hint"`
	// Names maps each owned name to who uses it and why.
	Names map[string]string `json:"names"`
}

// checkOwned refuses every setting of region r that names something the
// templates own, each as a config.Error at the file and line where the
// setting was written. input is the JSON the templates were given.
func checkOwned(r *config.RegionConfig, input []byte, owned map[string]Owned) error {
	if len(owned) == 0 {
		return nil
	}
	var in struct {
		Settings any `json:"settings"`
		Region   any `json:"region"`
	}
	if err := json.Unmarshal(input, &in); err != nil {
		return fmt.Errorf("reading the template input: %w", err)
	}
	var errs config.ErrorList
	for _, path := range slices.Sorted(maps.Keys(owned)) {
		o := owned[path]
		from, at := in.Settings, r.SettingError
		if rest, ok := strings.CutPrefix(path, regionKeyPrefix); ok {
			from, at, path = in.Region, r.RegionError, rest
		}
		for _, c := range chosenNames(from, "", strings.Split(path, ".")) {
			for _, name := range slices.Sorted(maps.Keys(o.Names)) {
				if !collides(c.name, name) {
					continue
				}
				msg := fmt.Sprintf("%q is owned by coderfleet: %s", c.name, o.Names[name])
				if c.name != name {
					msg = fmt.Sprintf("%q would replace %q, which is owned by coderfleet: %s", c.name, name, o.Names[name])
				}
				errs = append(errs, at(c.key, msg, o.Hint))
				break
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return refusedSettings{errs}
}

// regionKeyPrefix starts an owned key path of the region's region.yaml.
const regionKeyPrefix = "region."

// chosen is one name a user chose and the key path where it was written.
type chosen struct{ name, key string }

// chosenNames walks v (decoded JSON) along the path segments segs and
// returns the names found at its end; key is the path walked so far.
func chosenNames(v any, key string, segs []string) []chosen {
	if len(segs) == 0 {
		switch x := v.(type) {
		case string:
			return []chosen{{x, key}}
		case map[string]any:
			var out []chosen
			for _, leaf := range leafPaths(x, "") {
				out = append(out, chosen{leaf, key + "." + leaf})
			}
			return out
		}
		return nil
	}
	seg, list := strings.CutSuffix(segs[0], "[]")
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	var out []chosen
	if seg == "*" {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			out = append(out, chosenNames(m[k], join(key, k), segs[1:])...)
		}
		return out
	}
	next, ok := m[seg]
	if !ok {
		return nil
	}
	if !list {
		return chosenNames(next, join(key, seg), segs[1:])
	}
	items, _ := next.([]any)
	for i, item := range items {
		out = append(out, chosenNames(item, fmt.Sprintf("%s[%d]", join(key, seg), i), segs[1:])...)
	}
	return out
}

// leafPaths lists the dotted paths of a mapping's values; an empty mapping
// or a null counts as a value (it replaces what is below it).
func leafPaths(m map[string]any, prefix string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if sub, ok := m[k].(map[string]any); ok && len(sub) > 0 {
			out = append(out, leafPaths(sub, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	return out
}

// collides reports whether two dotted names are equal or one contains the
// other.
func collides(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".")
}

func join(key, seg string) string {
	if key == "" {
		return seg
	}
	return key + "." + seg
}
