--[[
  Report: record one outcome (engine report()). The caller has checked the
  token's shape and circuit hash and passes its parts.
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
local c = load_circuit(ctx.keys.circuit, ctx.now)
if not c.exists then
  return cjson.encode({ rejected = "missing" })
end
local cfg = ctx.cfg
local permit, gen, kind = ARGV[9], tonumber(ARGV[10]), ARGV[11]
local expires, outcome = tonumber(ARGV[12]), ARGV[13]
local duration, hint = tonumber(ARGV[14]), tonumber(ARGV[15])

if gen > c.g then return cjson.encode({ rejected = "unknown" }) end
advance(ctx, c)
-- Every transition from here on is this report's doing (time's came above).
if ARGV[16] ~= "" then ctx.principal = { keyName = ARGV[16], agentInstanceId = ARGV[17] } end

local function finish(res)
  commit(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
  res.events = ctx.out
  return cjson.encode(res)
end

if ctx.now >= expires then
  commit(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
  return cjson.encode({ rejected = "expired", now = ctx.now, events = ctx.out })
end
-- A permit reported before: nothing changes; the first outcome stands.
local function repeated(first)
  -- A permit reported before outcomes were kept answers as a duplicate.
  if first == "" then first = outcome end
  return finish({
    state = visible_state(c, cfg), disposition = first == outcome and "DUPLICATE" or "CONFLICT",
    recordedOutcome = first, duplicate = true, stale = false,
  })
end

local current = gen == c.g
local is_probe = false
local slots = tonumber(ARGV[19])
-- Asked before the probe check, so a repeated probe report answers
-- DUPLICATE or CONFLICT rather than "not outstanding" (its slot is already free).
local first, top = permit_seen(ctx, permit, ARGV[18], slots)
if first == "forgotten" then
  commit(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
  return cjson.encode({ rejected = "forgotten", events = ctx.out })
end
if first then return repeated(first) end
if kind == "p" and current then
  if c.s ~= "HALF_OPEN" or not redis.call("ZSCORE", ctx.keys.probes, permit) then
    commit(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
    return cjson.encode({ rejected = "probe", events = ctx.out })
  end
  is_probe = true
end
permit_record(ctx, c, permit, ARGV[12], ARGV[18], top, outcome, slots)
c.dirty = true
if outcome == "SUCCESS" then c.ts = c.ts + 1
elseif outcome == "FAILURE" then c.tf = c.tf + 1
elseif outcome == "TIMEOUT" then c.tf = c.tf + 1; c.tt = c.tt + 1
else c.ti = c.ti + 1 end

local function done(stale)
  return finish({
    state = visible_state(c, cfg), disposition = stale and "STALE" or "RECORDED",
    recordedOutcome = outcome, duplicate = false, stale = stale,
  })
end

if is_probe then redis.call("ZREM", ctx.keys.probes, permit) end
if outcome == "IGNORED" then return done(not current) end
if not current then return done(true) end

local failed = outcome == "FAILURE" or outcome == "TIMEOUT"
local function count_window()
  local slow = (not failed) and cfg.slow_call_duration > 0 and duration > cfg.slow_call_duration
  local start = record_call(c, cfg, ctx.now, failed, slow)
  record_reporter(c, ARGV[16], ARGV[17], start, failed, slow)
  if failed then c.cf = c.cf + 1 else c.cf = 0 end
end

-- The transition `t` this report drove names the reporters whose failures opened it.
local function opened_by(t, reporters)
  if #reporters > 0 then t.failureReporters = reporters end
end

if kind == "s" then return done(false) end
if kind == "d" then count_window(); return done(false) end
if kind == "c" then
  count_window()
  if c.s == "CLOSED" and cfg.enabled then
    local reason, reporters = trip_of(c, cfg, ctx.now)
    if reason ~= nil then opened_by(open(ctx, c, reason, hint), reporters) end
  end
  return done(false)
end
-- a probe
if c.s ~= "HALF_OPEN" then return done(false) end
if failed then
  -- A failed probe reopens whatever min_distinct_reporters says: it is one permit of few.
  local t = reopen_from_half_open(ctx, c, outcome == "TIMEOUT" and "probe_timeout" or "probe_failed", hint)
  opened_by(t, { { keyName = ARGV[16], agentInstanceId = ARGV[17] } })
  return done(false)
end
c.hs = c.hs + 1
if c.hs >= cfg.success_threshold then
  clear_counters(c)
  transition(ctx, c, "CLOSED", "probes_succeeded")
end
return done(false)
