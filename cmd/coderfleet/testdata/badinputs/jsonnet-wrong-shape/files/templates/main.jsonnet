// A deliberately broken entry point (bad-input corpus).
function(config) { componentz: {} }
