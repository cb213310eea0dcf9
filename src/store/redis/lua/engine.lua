--[[
  The engine's rules in Lua: the Redis twin of src/engine/circuit.ts.
  Included at load time at the top of every command script (see scripts.ts).
  Every rule here mirrors a function there, in the same order; the
  conformance suite and the differential test hold the two to the same
  answers step by step. Change both or neither.

  A circuit is the hash KEYS[1] (fields below), its outstanding probes the
  sorted set KEYS[2] (member permit, score expiry ms), the permits already
  reported the sorted set KEYS[3] (same), its history the list KEYS[4]. The
  circuit's explicit settings live in KEYS[5] and never expire.

  Hash fields: s state, g generation, sn since, cf consecutive failures,
  ro reopen count, ou open until, hs half-open successes, ts tf tt ti tr
  totals (successes failures timeouts ignored rejections), ws<i> wc<i> wf<i>
  wl<i> window bucket i (start, calls, failures, slow), i = 0..9, ex when
  the keys' expiry was last set (-1: they do not expire). A field at its
  default (0, or -1 for ws<i>) may be absent; only changed fields are written.
]]

local BUCKETS = 10
local TOTALS = { "ts", "tf", "tt", "ti", "tr" }

-- Every numeric field and its default, in one list (save_circuit writes the changed ones).
local NUMERIC = { "g", "sn", "cf", "ro", "ou", "hs", "ts", "tf", "tt", "ti", "tr", "ex" }
local DEFAULTS = { ex = -1 }
for i = 0, 9 do
  NUMERIC[#NUMERIC + 1] = "ws" .. i; DEFAULTS["ws" .. i] = -1
  NUMERIC[#NUMERIC + 1] = "wc" .. i
  NUMERIC[#NUMERIC + 1] = "wf" .. i
  NUMERIC[#NUMERIC + 1] = "wl" .. i
end

-- Redis TIME in ms. Tests (only) pass "@<ms>" to freeze the clock where they want it.
local function clock_ms(arg)
  if string.sub(arg, 1, 1) == "@" then return tonumber(string.sub(arg, 2)) end
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Config from one argument: 15 values joined by "|", in the order of scripts.ts packConfig.
local function read_config(packed)
  local v = {}
  for field in string.gmatch(packed, "[^|]+") do v[#v + 1] = tonumber(field) end
  local a = function(i) return v[i + 1] end
  return {
    enabled = a(0) == 1,
    failure_threshold = a(1),
    failure_rate_threshold = a(2),
    minimum_calls = a(3),
    window_ms = a(4),
    slow_call_ms = a(5),
    slow_rate_threshold = a(6),
    open_ms = a(7),
    backoff = a(8),
    max_open_ms = a(9),
    half_open_max = a(10),
    success_threshold = a(11),
    permit_ttl_ms = a(12),
    jitter = a(13),
    shadow = a(14) == 1,
  }
end

local function round(x) return math.floor(x + 0.5) end

local function load_circuit(key, now)
  local raw = redis.call("HGETALL", key)
  local c = { exists = #raw > 0, stored = {} }
  for i = 1, #raw, 2 do
    local f, v = raw[i], raw[i + 1]
    if f == "s" then c.s = v else c[f] = tonumber(v) end
    c.stored[f] = c[f]
  end
  if not c.exists then
    c.s = "CLOSED"; c.sn = now
  end
  for _, f in ipairs(NUMERIC) do
    if c[f] == nil then
      c[f] = DEFAULTS[f] or 0
      c.stored[f] = c[f]
    end
  end
  c.dirty = not c.exists
  return c
end

-- Writes the fields that differ from what was loaded (all of them for a new circuit).
local function save_circuit(key, c)
  local args = {}
  if not c.exists or c.s ~= c.stored.s then
    args[1] = "s"; args[2] = c.s
  end
  for _, f in ipairs(NUMERIC) do
    if not c.exists or c[f] ~= c.stored[f] then
      args[#args + 1] = f; args[#args + 1] = c[f]
    end
  end
  if #args > 0 then redis.call("HSET", key, unpack(args)) end
end

local function bucket_width(window_ms)
  return math.max(1, math.floor(window_ms / BUCKETS))
end

local function record_call(c, cfg, now, failed, slow)
  local width = bucket_width(cfg.window_ms)
  local index = math.floor(now / width)
  local slot = index % BUCKETS
  local start = index * width
  if c["ws" .. slot] ~= start then
    c["ws" .. slot] = start; c["wc" .. slot] = 0; c["wf" .. slot] = 0; c["wl" .. slot] = 0
  end
  c["wc" .. slot] = c["wc" .. slot] + 1
  if failed then c["wf" .. slot] = c["wf" .. slot] + 1 end
  if slow then c["wl" .. slot] = c["wl" .. slot] + 1 end
end

local function window_counts(c, cfg, now)
  local oldest = now - cfg.window_ms
  local calls, failures, slow = 0, 0, 0
  for i = 0, BUCKETS - 1 do
    local start = c["ws" .. i]
    if start > oldest and start <= now then
      calls = calls + c["wc" .. i]; failures = failures + c["wf" .. i]; slow = slow + c["wl" .. i]
    end
  end
  return calls, failures, slow
end

local function clear_window(c)
  for i = 0, BUCKETS - 1 do
    c["ws" .. i] = -1; c["wc" .. i] = 0; c["wf" .. i] = 0; c["wl" .. i] = 0
  end
end

local function visible_state(c, cfg)
  if cfg.enabled or c.s == "FORCED_OPEN" then return c.s end
  return "DISABLED"
end

-- Counters in the shape of engine CircuitStats (camelCase, as JSON).
local function stats_of(c, cfg, now, probes_key)
  local calls, failures, slow = window_counts(c, cfg, now)
  local in_flight, successes = 0, 0
  if c.s == "HALF_OPEN" then
    in_flight = redis.call("ZCARD", probes_key)
    successes = c.hs
  end
  return {
    windowCalls = calls, windowFailures = failures, windowSlowCalls = slow,
    failureRate = calls == 0 and 0 or failures / calls,
    slowCallRate = calls == 0 and 0 or slow / calls,
    consecutiveFailures = c.cf, halfOpenInFlight = in_flight, halfOpenSuccesses = successes,
    totalSuccesses = c.ts, totalFailures = c.tf, totalTimeouts = c.tt, totalIgnored = c.ti,
    totalRejections = c.tr, reopenCount = c.ro,
  }
end

local function open_duration_for(cfg, reopen_count, rand, hint_ms)
  local grown = math.min(cfg.max_open_ms, cfg.open_ms * cfg.backoff ^ reopen_count)
  local jittered = math.min(cfg.max_open_ms, grown * (1 + cfg.jitter * (2 * rand - 1)))
  local hint = math.min(math.max(0, hint_ms), cfg.max_open_ms)
  return math.max(1, round(math.max(jittered, hint)))
end

-- ctx: { name, cfg, now, rand, keys = {circuit, probes, reported, history}, out = {} }
local function transition(ctx, c, to, reason, open_until)
  local from = c.s
  c.s = to
  c.g = c.g + 1
  c.sn = ctx.now
  c.dirty = true
  if to == "OPEN" then c.ou = open_until else c.ou = 0 end
  if to == "HALF_OPEN" then c.hs = 0 end
  -- Probes and their slots belong to one HALF_OPEN period.
  if from == "HALF_OPEN" then redis.call("DEL", ctx.keys.probes) end
  local t = {
    circuit = ctx.name, from = from, to = to, at = ctx.now, reason = reason,
    generation = c.g, stats = stats_of(c, ctx.cfg, ctx.now, ctx.keys.probes),
  }
  if to == "OPEN" then t.openUntil = open_until end
  if ctx.actor ~= nil and ctx.actor ~= "" then t.actor = ctx.actor end
  ctx.out[#ctx.out + 1] = t
  return t
end

local function clear_counters(c)
  clear_window(c)
  c.cf = 0
  c.ro = 0
end

local function open(ctx, c, reason, hint_ms)
  local until_ms = ctx.now + open_duration_for(ctx.cfg, c.ro, ctx.rand, hint_ms)
  return transition(ctx, c, "OPEN", reason, until_ms)
end

local function reopen_from_half_open(ctx, c, reason, hint_ms)
  c.ro = c.ro + 1
  return open(ctx, c, reason, hint_ms)
end

-- advance(): lazy OPEN -> HALF_OPEN and probe expiry; prunes reported permits.
local function advance(ctx, c)
  redis.call("ZREMRANGEBYSCORE", ctx.keys.reported, "-inf", ctx.now)
  if c.s == "OPEN" and ctx.now >= c.ou then
    transition(ctx, c, "HALF_OPEN", "open_duration_elapsed")
  elseif c.s == "HALF_OPEN" then
    local expired = redis.call("ZRANGEBYSCORE", ctx.keys.probes, "-inf", ctx.now, "LIMIT", 0, 1)
    if #expired > 0 then
      c.tt = c.tt + 1
      c.tf = c.tf + 1
      reopen_from_half_open(ctx, c, "probe_timeout", 0)
    end
  end
end

-- The circuit's view in the shape of store CircuitView (minus config, added by TS).
local function view_of(ctx, c)
  local v = {
    circuit = ctx.name, state = visible_state(c, ctx.cfg),
    stats = stats_of(c, ctx.cfg, ctx.now, ctx.keys.probes), generation = c.g, since = c.sn,
  }
  if c.s == "OPEN" then v.openUntil = c.ou end
  return v
end

-- Adds to a circuit's side key (reported, probes, history), which may be
-- created by this call: it must expire with the circuit.
local function touch_side_key(ctx, c, key, idle_ttl_ms)
  if c.s == "CLOSED" and c.ex ~= -1 then redis.call("PEXPIRE", key, idle_ttl_ms) end
end

-- Writes the circuit back and appends its transitions to history and the
-- event stream; keeps an idle CLOSED circuit expiring and any other one not.
local function commit(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
  if c.dirty or #ctx.out > 0 then save_circuit(ctx.keys.circuit, c) end
  for _, t in ipairs(ctx.out) do
    if events_key ~= nil then
      t.eventId = redis.call("XADD", events_key, "MAXLEN", "~", events_maxlen, "*", "e", cjson.encode(t))
    end
    redis.call("LPUSH", ctx.keys.history, cjson.encode({ kind = "transition", event = t }))
    redis.call("LTRIM", ctx.keys.history, 0, history_limit - 1)
  end
  -- Expiry: a CLOSED circuit's keys expire after idle_ttl_ms without use,
  -- refreshed at most every tenth of it (so they expire 90-100 % of the idle
  -- time after the last use); any other state never expires.
  local keys = { ctx.keys.circuit, ctx.keys.probes, ctx.keys.reported, ctx.keys.history }
  if c.s == "CLOSED" then
    if c.ex == -1 or ctx.now - c.ex >= idle_ttl_ms / 10 or ctx.now < c.ex then
      c.ex = ctx.now
      redis.call("HSET", ctx.keys.circuit, "ex", c.ex)
      for _, k in ipairs(keys) do redis.call("PEXPIRE", k, idle_ttl_ms) end
    end
  elseif c.ex ~= -1 then
    c.ex = -1
    redis.call("HSET", ctx.keys.circuit, "ex", -1)
    for _, k in ipairs(keys) do redis.call("PERSIST", k) end
  end
  if #ctx.out > 0 or ctx.history_pushed then touch_side_key(ctx, c, ctx.keys.history, idle_ttl_ms) end
end

