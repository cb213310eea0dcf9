--[[
  Admin changes (engine reset() and force()).
  KEYS[1..7], ARGV[1..8]: the circuit's keys and the shared arguments (includes/prelude).
  ARGV[9] action: "reset", "FORCED_OPEN", "DISABLED" or "CLOSED" (release)
  ARGV[10] actor: the admin's key name, also its principal's (admins declare no agent instance)
  Reset of a circuit that does not exist returns {missing = true}; ForceState
  creates it. Returns JSON {view, events} or {staleConfig}.
]]
--- @include "includes/config"
--- @include "includes/engine"
--- @include "includes/prelude"
local c = load_circuit(ctx.keys.circuit, ctx.now)
local action = ARGV[9]
ctx.actor = ARGV[10]
ctx.principal = { keyName = ARGV[10], agentInstanceId = "" }
-- ForceState creates the circuit: not past the cap (includes/indexes).
if not c.exists and action ~= "reset" and cap_refusal(ctx.now) then return cjson.encode({ capReached = true }) end
if action == "reset" then
  if not c.exists then return cjson.encode({ missing = true }) end
  clear_counters(c)
  transition(ctx, c, "CLOSED", "reset")
else
  -- Time-driven transitions are not the admin's doing.
  local actor, principal = ctx.actor, ctx.principal
  ctx.actor, ctx.principal = nil, nil
  advance(ctx, c)
  ctx.actor, ctx.principal = actor, principal
  if action == "CLOSED" then
    if c.s == "FORCED_OPEN" or c.s == "DISABLED" then
      clear_counters(c)
      transition(ctx, c, "CLOSED", "released")
    end
  elseif c.s ~= action then
    transition(ctx, c, action, action == "FORCED_OPEN" and "forced_open" or "disabled")
  end
end
commit(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
return cjson.encode({ view = view_of(ctx, c), events = ctx.out })
