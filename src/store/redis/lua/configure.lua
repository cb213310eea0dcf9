--[[
  Configure one circuit: stores its new explicit settings (the prelude has
  checked ARGV[4] is still the stored version, so concurrent Configures
  cannot lose each other's changes), records the change in its history, and
  applies due transitions under the new config (ARGV[8]). Creates the
  circuit.
  KEYS[1..7], ARGV[1..8]: the circuit's keys and the shared arguments (includes/prelude).
  ARGV[9] explicit settings JSON   ARGV[10] config-change history entry JSON
  Records the change in history and the event stream (includes/config-history)
  before the transitions it makes due, then appends a config marker
  {c = name, v = version} to the event stream (for the replicas' settings caches).
  Returns JSON {view, version, events, now} or {staleConfig}.
]]
--- @include "includes/config"
--- @include "includes/engine"
--- @include "includes/prelude"
--- @include "includes/config-history"
local c = load_circuit(ctx.keys.circuit, ctx.now)
if not c.exists and cap_refusal(ctx.now) then return cjson.encode({ capReached = true }) end
local version = tonumber(ARGV[4]) + 1
redis.call("HSET", ctx.keys.explicit, "v", version, "s", ARGV[9])
c.dirty = true
local entry = cjson.decode(ARGV[10])
entry.change.at = ctx.now
record_config_change(ctx.keys.history, history_limit, events_key, events_maxlen, ctx.name, entry)
ctx.history_pushed = true
advance(ctx, c)
commit(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
-- Tell every replica to drop its copy of this circuit's settings and view.
if events_key ~= nil then
  redis.call("XADD", events_key, "MAXLEN", "~", events_maxlen, "*", "c", ctx.name, "v", version)
end
return cjson.encode({ view = view_of(ctx, c), version = version, events = ctx.out, now = ctx.now })
