package render

import "github.com/coderfleet/coderfleet/config"

// TemplateInputJSON returns the JSON that Render passes to
// templates/main.jsonnet as its top-level argument `config` for region r of
// cfg. It lets other tools evaluate the same templates with the same input:
// coderfleet's benchmark feeds it to the go-jsonnet CLI to compare with a
// one-process-per-step pipeline.
func TemplateInputJSON(cfg *config.Config, r *config.RegionConfig, version string) ([]byte, error) {
	return templateInput(cfg, r, version)
}
