--[[
  Reads a circuit as of now, applying due time-driven transitions first
  (engine advance()), like every read of the memory store. A read is no use
  of the circuit: it never postpones an idle circuit's expiry.
  KEYS[1..7], ARGV[1..8]: the circuit's keys and the shared arguments (includes/prelude).
  ARGV[9] what: "view" or "history" (the view and the whole retained history:
  history-page.ts pages it, as the memory store does)
  Returns JSON {missing = true}, {view, history?, events} or {staleConfig}.
]]
--- @include "includes/config"
--- @include "includes/engine"
--- @include "includes/prelude"
ctx.use = false
local c = load_circuit(ctx.keys.circuit, ctx.now)
if not c.exists then return cjson.encode({ missing = true }) end
advance(ctx, c)
commit(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
local res = { view = view_of(ctx, c), events = ctx.out }
if ARGV[9] == "history" then
  res.history = redis.call("LRANGE", ctx.keys.history, 0, history_limit - 1)
end
return cjson.encode(res)
