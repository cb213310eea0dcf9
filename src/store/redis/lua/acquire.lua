--[[
  Acquire: decide one call (engine acquire()). Creates the circuit.
  KEYS[1..7], ARGV[1..8]: the circuit's keys and the shared arguments (includes/prelude).
  ARGV[9] permit prefix: "<circuit hash>"   ARGV[10] the permit's "<stream>.<seq>" (permit-streams.ts)
  Returns JSON {allowed, permit?, state, retryAfterMs, reason?, shadowDenied,
  events, generation, phase, now} or {staleConfig}.
]]
--- @include "includes/config"
--- @include "includes/engine"
--- @include "includes/prelude"
local c = load_circuit(ctx.keys.circuit, ctx.now)
if not c.exists and cap_refusal(ctx.now) then return cjson.encode({ capReached = true }) end
advance(ctx, c)
local cfg = ctx.cfg

local function to36(n)
  local digits = "0123456789abcdefghijklmnopqrstuvwxyz"
  if n == 0 then return "0" end
  local s = ""
  while n > 0 do
    local d = n % 36
    s = string.sub(digits, d + 1, d + 1) .. s
    n = math.floor(n / 36)
  end
  return s
end

local result
local function grant(kind, shadow_denied, reason)
  local expires = ctx.now + cfg.permit_ttl
  local permit = ARGV[9] .. "." .. to36(c.g) .. "." .. kind .. "." .. to36(expires) .. "." .. ARGV[10]
  if kind == "p" and c.s == "HALF_OPEN" then
    redis.call("ZADD", ctx.keys.probes, expires, permit)
  end
  result = { allowed = true, permit = permit, state = visible_state(c, cfg), retryAfterMs = 0, shadowDenied = shadow_denied }
  if reason ~= nil then result.reason = reason end
end
local function deny(reason, retry_after)
  c.tr = c.tr + 1
  c.dirty = true
  if cfg.mode == "shadow" and reason ~= "FORCED_OPEN" then return grant("s", true, reason) end
  result = { allowed = false, state = c.s, retryAfterMs = retry_after, reason = reason, shadowDenied = false }
end

if not cfg.enabled and c.s ~= "FORCED_OPEN" then
  grant("d", false)
elseif c.s == "CLOSED" then
  grant("c", false)
elseif c.s == "DISABLED" then
  grant("d", false)
elseif c.s == "FORCED_OPEN" then
  deny("FORCED_OPEN", 0)
elseif c.s == "OPEN" then
  deny("OPEN", math.max(0, c.ou - ctx.now))
else -- HALF_OPEN
  if redis.call("ZCARD", ctx.keys.probes) < cfg.half_open_max_calls then grant("p", false) else deny("HALF_OPEN_FULL", 0) end
end

commit(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
result.events = ctx.out
result.generation = c.g
result.phase = c.s
result.now = ctx.now
return cjson.encode(result)
