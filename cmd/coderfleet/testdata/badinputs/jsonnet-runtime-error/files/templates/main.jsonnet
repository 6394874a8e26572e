// A deliberately broken entry point (bad-input corpus).
function(config)
  error 'no coder image configured'
