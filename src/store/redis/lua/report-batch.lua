--[[
  Report, several of one circuit at once (report-coalescer.ts): one load of
  the circuit, the reports applied in order exactly as that many report.lua
  calls at the same instant would apply them (includes/report-one), one
  write of the circuit at the end. Each report's transitions reach the event
  stream and history in order, as it is applied.
  KEYS[1..7], ARGV[1..8]: the circuit's keys and the shared arguments (includes/prelude;
  ARGV[3] is unused: each report has its own random).
  KEYS[6] is the prefix of the circuit's permit-window keys (keys.ts
  `{circuit}:w:`): each report's window is that prefix and its permit's stream
  (one hash tag, so one Cluster slot).
  ARGV[9] n, the number of reports; then per report i (0-based) thirteen
  arguments from ARGV[10 + 13 i]: report.lua's ARGV[9..19] in that order,
  then the permit's stream ("": a legacy permit) and the random [0, 1) for
  the jitter of an open it drives.
  Returns JSON [reply, ...], one reply per report in order, each what
  report.lua answers; {rejected = "missing"} (one, for all) or {staleConfig}.
]]
--- @include "includes/config"
--- @include "includes/engine"
--- @include "includes/prelude"
--- @include "includes/permit-window"
--- @include "includes/report-one"
local c = load_circuit(ctx.keys.circuit, ctx.now)
if not c.exists then
  return cjson.encode({ rejected = "missing" })
end
return cjson.encode(report_batch(ctx, c, 10, tonumber(ARGV[9]), ctx.keys.window))
