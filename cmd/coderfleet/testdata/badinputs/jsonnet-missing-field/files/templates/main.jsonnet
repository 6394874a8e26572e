// A deliberately broken entry point (bad-input corpus).
function(config) {
  components: { namespaces: [config.settings.nope] },
}
