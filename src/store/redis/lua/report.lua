--[[
  Report: record one outcome (engine report(); the rules are in
  includes/report-one). The caller has checked the token's shape and circuit
  hash and passes its parts.
  KEYS[1..7], ARGV[1..8]: the circuit's keys and the shared arguments (includes/prelude).
  ARGV[9] permit token  ARGV[10] permit generation  ARGV[11] kind (c p s d)
  ARGV[12] expires at ms ARGV[13] outcome (SUCCESS FAILURE TIMEOUT IGNORED)
  ARGV[14] duration ms   ARGV[15] retry-after hint ms
  ARGV[16] reporter's key name ("": no principal)  ARGV[17] reporter's agent instance id
  ARGV[18] permit seq ("": a legacy permit)  ARGV[19] slots of a stream's window (includes/permit-window)
  Returns JSON {state, disposition, recordedOutcome, duplicate, stale, events},
  {rejected = problem, ...} or {staleConfig}.
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
local reply = report_one(ctx, c, 9)
if ctx.stepped then commit_write(ctx, c, idle_ttl_ms, ctx.transitions) end
permit_windows_expire(ctx)
return cjson.encode(reply)
