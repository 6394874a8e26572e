// A deliberately broken entry point (bad-input corpus).
function(config)
  local spin(n) = if n == 0 then {} else spin(n - 1) tailstrict;
  { components: spin(1000000000) }
