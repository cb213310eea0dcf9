--[[
  Report, several of one circuit at once (report-coalescer.ts): one load of
  the circuit, the reports applied in order exactly as that many report.lua
  calls at the same instant would apply them (includes/report-one), one
  write of the circuit at the end. Each report's transitions reach the event
  stream and history in order, as it is applied.
  KEYS[1..6], ARGV[1..8]: the circuit's keys and the shared arguments (includes/prelude;
  ARGV[3] is unused: each report has its own random).
  ARGV[9] n, the number of reports; then per report i (0-based) ten
  arguments from ARGV[10 + 10 i]: report.lua's ARGV[9..17] in that order,
  then the random [0, 1) for the jitter of an open it drives.
  Returns JSON [reply, ...], one reply per report in order, each what
  report.lua answers; {rejected = "missing"} (one, for all) or {staleConfig}.
]]
--- @include "includes/config"
--- @include "includes/engine"
--- @include "includes/prelude"
--- @include "includes/report-one"
local c = load_circuit(ctx.keys.circuit, ctx.now)
if not c.exists then
  return cjson.encode({ rejected = "missing" })
end
local n = tonumber(ARGV[9])
local replies = {}
for i = 0, n - 1 do
  local a = 10 + 10 * i
  ctx.rand = tonumber(ARGV[a + 9])
  replies[i + 1] = report_one(ctx, c, a)
end
if ctx.stepped then commit_write(ctx, c, idle_ttl_ms, ctx.transitions) end
return cjson.encode(replies)
