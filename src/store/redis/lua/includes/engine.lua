--[[
  The engine's rules in Lua: the Redis twin of src/engine/circuit.ts (and
  of window.ts and reporters.ts). Every rule here mirrors a function there,
  in the same order; the conformance suite and the differential test hold
  the two to the same answers step by step. Change both or neither. One
  file of ~400 lines, like circuit.ts: one state machine, whose private
  steps every command script includes together.

  Defines: BUCKETS, clock_ms, load_circuit, save_circuit, record_call,
  window_counts, clear_window, record_reporter, trip_of, visible_state, stats_of, transition,
  clear_counters, open, reopen_from_half_open, advance, view_of,
  touch_side_key, commit (and its halves commit_step and commit_write; and push_history and expire_with_circuit, from
  includes/history), reported_score, reported_outcome. `cfg` everywhere is the table read_config
  (includes/config) returns: every config field by its name in
  CONFIG_FIELD_LIST, durations in ms (cfg.open_duration = 60000).

  A circuit is the hash KEYS[1] (fields below), its outstanding probes the
  sorted set KEYS[2] (member permit, score expiry ms), the permits already
  reported the sorted set KEYS[3] (member permit, score expiry ms plus the
  counted outcome's code / 8: see reported_score), its history the list
  KEYS[4]. The circuit's explicit settings live in KEYS[5] and never expire.

  Hash fields: s state, g generation, sn since, cf consecutive failures,
  ro reopen count, ou open until, hs half-open successes, ts tf tt ti tr
  totals (successes failures timeouts ignored rejections), ws<i> wc<i> wf<i>
  wl<i> window bucket i (start, calls, failures, slow), i = 0..9, ex the
  last use as recorded (refreshed at most every tenth of the idle TTL; -1:
  none recorded), xe when the keys expire (script clock; -1: they do not),
  rf rs the failure and slow-call reporter lists (JSON [[bucket start, key
  name, instance id], ...], most recent first, at most MAX_REPORTERS; "" when
  empty), rn how many of rf's first entries are in the consecutive-failure
  run (engine reporters.ts), tu the score last written for the circuit in
  the change feed (includes/indexes.lua index_touch_due; 0: none). A field
  at its default (0; -1 for ex, xe and
  ws<i>; "" for rf and rs) may be absent: a new circuit writes s and
  the fields away from their default, later calls only the fields they
  changed.
]]

--- @include "includes/history"
--- @include "includes/indexes"

local BUCKETS = 10

-- Field names as constants: building them per call ("ws" .. i) formats a
-- number each time, which was a large share of a script's CPU in Redis.
-- Bucket i's fields are WS[i + 1], WC[i + 1], WF[i + 1], WL[i + 1].
local WS = { "ws0", "ws1", "ws2", "ws3", "ws4", "ws5", "ws6", "ws7", "ws8", "ws9" }
local WC = { "wc0", "wc1", "wc2", "wc3", "wc4", "wc5", "wc6", "wc7", "wc8", "wc9" }
local WF = { "wf0", "wf1", "wf2", "wf3", "wf4", "wf5", "wf6", "wf7", "wf8", "wf9" }
local WL = { "wl0", "wl1", "wl2", "wl3", "wl4", "wl5", "wl6", "wl7", "wl8", "wl9" }

-- Every numeric field, in one list (save_circuit writes the changed ones).
local NUMERIC = {
  "g", "sn", "cf", "ro", "ou", "hs", "ts", "tf", "tt", "ti", "tr", "ex", "xe",
  "ws0", "wc0", "wf0", "wl0", "ws1", "wc1", "wf1", "wl1", "ws2", "wc2", "wf2", "wl2",
  "ws3", "wc3", "wf3", "wl3", "ws4", "wc4", "wf4", "wl4", "ws5", "wc5", "wf5", "wl5",
  "ws6", "wc6", "wf6", "wl6", "ws7", "wc7", "wf7", "wl7", "ws8", "wc8", "wf8", "wl8",
  "ws9", "wc9", "wf9", "wl9", "rn", "tu",
}

-- The reporter lists: text fields, decoded only when a rule needs them.
local TEXT = { "rf", "rs" }

-- A circuit with every field of NUMERIC at its default, in one table
-- constructor: the table is sized once instead of growing field by field
-- (the last four fields, set by load_circuit, are in it for the same reason).
local function defaults()
  return {
    g = 0, sn = 0, cf = 0, ro = 0, ou = 0, hs = 0, ts = 0, tf = 0, tt = 0, ti = 0, tr = 0, ex = -1, xe = -1,
    ws0 = -1, wc0 = 0, wf0 = 0, wl0 = 0, ws1 = -1, wc1 = 0, wf1 = 0, wl1 = 0, ws2 = -1, wc2 = 0, wf2 = 0, wl2 = 0,
    ws3 = -1, wc3 = 0, wf3 = 0, wl3 = 0, ws4 = -1, wc4 = 0, wf4 = 0, wl4 = 0, ws5 = -1, wc5 = 0, wf5 = 0, wl5 = 0,
    ws6 = -1, wc6 = 0, wf6 = 0, wl6 = 0, ws7 = -1, wc7 = 0, wf7 = 0, wl7 = 0, ws8 = -1, wc8 = 0, wf8 = 0, wl8 = 0,
    ws9 = -1, wc9 = 0, wf9 = 0, wl9 = 0, rn = 0, tu = 0,
    rf = "", rs = "", rfl = false, rsl = false,
    s = false, exists = false, dirty = false, stored = false,
  }
end

-- Redis TIME in ms. Tests (only) pass "@<ms>" to freeze the clock where they want it.
local function clock_ms(arg)
  if string.sub(arg, 1, 1) == "@" then return tonumber(string.sub(arg, 2)) end
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function round(x) return math.floor(x + 0.5) end

-- A reported permit's score carries the outcome that counted (engine
-- ReportedPermit) in its fraction: expiry ms + code / 8, an exact binary
-- fraction of a double below 2^49 ms (year 19800). Built as text from the
-- expiry the replica sent (integer ms, ARGV) and the code's fraction:
-- string.format("%.3f") cost Report about 10 % of its script time, and Lua
-- would print the number with 14 significant digits and lose the fraction.
-- Code 0 (a whole score) is a permit a replica reported before outcomes were
-- kept; its outcome is unknown.
local OUTCOME_FRACTIONS = { SUCCESS = ".125", FAILURE = ".25", TIMEOUT = ".375", IGNORED = ".5" }
local OUTCOMES = { "SUCCESS", "FAILURE", "TIMEOUT", "IGNORED" }

-- `expires_text`: the permit's expiry, integer ms as decimal text.
local function reported_score(expires_text, outcome)
  return expires_text .. OUTCOME_FRACTIONS[outcome]
end

-- The outcome a reported permit's score (ZSCORE's reply) carries; nil if unknown.
local function reported_outcome(score)
  local n = tonumber(score)
  return OUTCOMES[round((n - math.floor(n)) * 8)]
end

-- What was loaded (c.stored): the fields the hash holds, the others at
-- their default through the metatable, so a load builds one full table, not two.
local STORED_DEFAULTS = { __index = defaults() }

local function load_circuit(key, now)
  local raw = redis.call("HGETALL", key)
  local c, stored = defaults(), setmetatable({}, STORED_DEFAULTS)
  for i = 1, #raw, 2 do
    local f, v = raw[i], raw[i + 1]
    if f ~= "s" and f ~= "rf" and f ~= "rs" then v = tonumber(v) end
    c[f] = v; stored[f] = v
  end
  c.exists = #raw > 0
  c.stored = stored
  if not c.exists then
    c.s = "CLOSED"; c.sn = now
  end
  c.dirty = not c.exists
  return c
end

-- Writes the fields that differ from what was loaded; a new circuit's
-- fields at their default stay absent, as load_circuit reads them.
local function save_circuit(key, c)
  local args, n, stored = {}, 0, c.stored
  if not c.exists or c.s ~= stored.s then
    args[1] = "s"; args[2] = c.s; n = 2
  end
  for i = 1, #NUMERIC do
    local f = NUMERIC[i]
    local v = c[f]
    if v ~= stored[f] then
      args[n + 1] = f; args[n + 2] = v; n = n + 2
    end
  end
  for i = 1, #TEXT do
    local f = TEXT[i]
    if c[f] ~= stored[f] then
      args[n + 1] = f; args[n + 2] = c[f]; n = n + 2
    end
  end
  if n > 0 then redis.call("HSET", key, unpack(args)) end
end

local function bucket_width(window_ms)
  return math.max(1, math.floor(window_ms / BUCKETS))
end

local function record_call(c, cfg, now, failed, slow)
  local width = bucket_width(cfg.window)
  local index = math.floor(now / width)
  local slot = index % BUCKETS + 1
  local start = index * width
  local ws, wc, wf, wl = WS[slot], WC[slot], WF[slot], WL[slot]
  if c[ws] ~= start then
    c[ws] = start; c[wc] = 0; c[wf] = 0; c[wl] = 0
  end
  c[wc] = c[wc] + 1
  if failed then c[wf] = c[wf] + 1 end
  if slow then c[wl] = c[wl] + 1 end
  return start
end

local function window_counts(c, cfg, now)
  local oldest = now - cfg.window
  local calls, failures, slow = 0, 0, 0
  for i = 1, BUCKETS do
    local start = c[WS[i]]
    if start > oldest and start <= now then
      calls = calls + c[WC[i]]; failures = failures + c[WF[i]]; slow = slow + c[WL[i]]
    end
  end
  return calls, failures, slow
end

local function clear_window(c)
  for i = 1, BUCKETS do
    c[WS[i]] = -1; c[WC[i]] = 0; c[WF[i]] = 0; c[WL[i]] = 0
  end
end

-- Reporter quorum (engine reporters.ts): the failure list rf (with the run
-- count rn) and the slow-call list rs, each at most MAX_REPORTERS distinct
-- reporters, most recent first. A decoded list is kept in rfl / rsl.
local MAX_REPORTERS = 16

local function reporter_list(c, f)
  local lf = f == "rf" and "rfl" or "rsl"
  if not c[lf] then c[lf] = c[f] == "" and {} or cjson.decode(c[f]) end
  return c[lf]
end

-- Moves the reporter to the front with bucket start `start` (dropping the
-- oldest entry of a full list) and stores the list; its former index, -1 if new.
local function note_reporter(c, f, key, inst, start)
  local list = reporter_list(c, f)
  local was = -1
  for i = 1, #list do
    local e = list[i]
    if e[2] == key and e[3] == inst then
      was = i - 1
      table.remove(list, i)
      break
    end
  end
  table.insert(list, 1, { start, key, inst })
  if #list > MAX_REPORTERS then list[#list] = nil end
  c[f] = cjson.encode(list)
  return was
end

-- engine recordReporter: one counted outcome by reporter (key, inst).
local function record_reporter(c, key, inst, start, failed, slow)
  if failed then
    local was = note_reporter(c, "rf", key, inst, start)
    if was < 0 or was >= c.rn then c.rn = math.min(c.rn + 1, #reporter_list(c, "rf")) end
    return
  end
  c.rn = 0
  if slow then note_reporter(c, "rs", key, inst, start) end
end

-- Principals ({keyName, agentInstanceId}) of list entries first..last
-- (last nil: to the end) whose bucket is live at `now` (any, when oldest is nil).
local function reporter_principals(list, last, oldest, now)
  local out = {}
  for i = 1, last or #list do
    local e = list[i]
    if oldest == nil or (e[1] > oldest and e[1] <= now) then
      out[#out + 1] = { keyName = e[2], agentInstanceId = e[3] }
    end
  end
  return out
end

-- engine tripOf: the CLOSED-state rule that opens the circuit now (nil if
-- none) and the principals of the reporters it counted, each rule needing
-- min_distinct_reporters of them (0 and 1: one; capped at MAX_REPORTERS).
local function trip_of(c, cfg, now)
  local quorum = math.min(MAX_REPORTERS, math.max(1, cfg.min_distinct_reporters))
  if cfg.failure_threshold > 0 and c.cf >= cfg.failure_threshold then
    local run = reporter_principals(reporter_list(c, "rf"), math.min(c.rn, #reporter_list(c, "rf")))
    if quorum <= 1 or #run >= quorum then return "consecutive_failures", run end
  end
  local calls, failures, slow = window_counts(c, cfg, now)
  if calls < cfg.minimum_calls or calls == 0 then return nil end
  local oldest = now - cfg.window
  if cfg.failure_rate_threshold > 0 and failures / calls >= cfg.failure_rate_threshold then
    local live = reporter_principals(reporter_list(c, "rf"), nil, oldest, now)
    if quorum <= 1 or #live >= quorum then return "failure_rate", live end
  end
  if cfg.slow_call_duration > 0 and slow / calls >= cfg.slow_call_rate_threshold then
    local live = reporter_principals(reporter_list(c, "rs"), nil, oldest, now)
    if quorum <= 1 or #live >= quorum then return "slow_call_rate", live end
  end
  return nil
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
  local grown = math.min(cfg.max_open_duration, cfg.open_duration * cfg.backoff_multiplier ^ reopen_count)
  local jittered = math.min(cfg.max_open_duration, grown * (1 + cfg.jitter * (2 * rand - 1)))
  local hint = math.min(math.max(0, hint_ms), cfg.max_open_duration)
  return math.max(1, round(math.max(jittered, hint)))
end

-- ctx: { name, cfg, now, rand, keys = {circuit, probes, reported, history}, out = {} },
-- and while the command's own transitions are made: actor (admin) and
-- principal ({keyName, agentInstanceId}: the admin or the reporter).
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
  if ctx.principal ~= nil then t.principal = ctx.principal end
  ctx.out[#ctx.out + 1] = t
  return t
end

local function clear_counters(c)
  clear_window(c)
  c.cf = 0
  c.ro = 0
  c.rf = ""; c.rs = ""; c.rn = 0; c.rfl = false; c.rsl = false
end

local function open(ctx, c, reason, hint_ms)
  local until_ms = ctx.now + open_duration_for(ctx.cfg, c.ro, ctx.rand, hint_ms)
  return transition(ctx, c, "OPEN", reason, until_ms)
end

local function reopen_from_half_open(ctx, c, reason, hint_ms)
  c.ro = c.ro + 1
  return open(ctx, c, reason, hint_ms)
end

-- advance(): lazy OPEN -> HALF_OPEN and probe expiry; prunes reported permits
-- that have expired (expiry <= now, whatever the outcome fraction), once per
-- script: a batch of Reports (report-batch.lua) advances before each at one
-- `now`, and records no permit that expires by then (such a report is refused).
local function advance(ctx, c)
  if not ctx.pruned then
    redis.call("ZREMRANGEBYSCORE", ctx.keys.reported, "-inf", "(" .. (ctx.now + 1))
    ctx.pruned = true
  end
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

-- After a write to one of the circuit's side keys (reported, probes,
-- history): a key this call created has no expiry yet and gets the circuit's
-- remaining time, so it expires with the circuit and never after it. An
-- existing side key already has its time: every expiry refresh (commit) sets
-- all the keys at once, and writing to a key keeps its expiry. So the common
-- case costs one PTTL, as the PEXPIRE it replaces did.
local function touch_side_key(ctx, c, key)
  if c.xe ~= -1 and redis.call("PTTL", key) == -1 then
    expire_with_circuit(ctx.keys.circuit, key)
  end
end

-- When the circuit's keys are to expire if nobody uses it (script clock), or
-- -1: never. The twin of src/engine/schedule.ts idleExpiryAt and circuit.ts
-- isEvictable: one idle TTL after the last use (c.ex) once CLOSED or
-- HALF_OPEN with no probe out; an OPEN circuit turns HALF_OPEN at its open
-- until, so no sooner than that; FORCED_OPEN and DISABLED never. With a probe
-- out, the probe's timeout reopens the circuit for at most max_open_duration:
-- that bound is used (nothing runs here when time passes, unlike the memory
-- store's tick, so the exact instant is not known; a later script sets it).
local function idle_expiry_at(ctx, c, idle_ttl_ms)
  local idle = c.ex + idle_ttl_ms
  if c.s == "CLOSED" then return idle end
  if c.s == "OPEN" then return math.max(idle, c.ou) end
  if c.s == "HALF_OPEN" then
    local last = redis.call("ZRANGE", ctx.keys.probes, -1, -1, "WITHSCORES")
    if #last == 0 then return idle end
    return math.max(idle, tonumber(last[2]) + ctx.cfg.max_open_duration)
  end
  return -1
end

-- commit() in two halves, so a batch of Reports (report-batch.lua) can run
-- the first after each report and the second once for the batch.
-- commit_step: records the use and the keys' expiry (c.xe) as of this
-- command, and appends its transitions (ctx.out) to the event stream and history.
local function commit_step(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
  -- The last use, refreshed at most every tenth of the idle TTL (so the keys
  -- expire 90-100 % of the idle time after the last use). Use is an
  -- Acquire, a Report or an admin write (ctx.use); a read (read.lua) is not,
  -- even when it applies a due transition: that is time's doing. A circuit
  -- written before ex was kept in every state (-1 when not CLOSED) starts
  -- counting at the first script that sees it.
  if ctx.use and (c.ex == -1 or ctx.now - c.ex >= idle_ttl_ms / 10 or ctx.now < c.ex) then
    c.ex = ctx.now
  elseif c.ex == -1 then
    c.ex = ctx.now
  end
  c.xe = idle_expiry_at(ctx, c, idle_ttl_ms)
  for _, t in ipairs(ctx.out) do
    if events_key ~= nil then
      t.eventId = redis.call("XADD", events_key, "MAXLEN", "~", events_maxlen, "*", "e", cjson.encode(t))
    end
    push_history(ctx.keys.history, { kind = "transition", event = t }, t.at, history_limit)
  end
end

-- commit_write: writes the circuit back (the fields that differ from what
-- was loaded) and sets its keys' expiry when that changed since the load;
-- `transitions`: whether any command since the load made one.
local function commit_write(ctx, c, idle_ttl_ms, transitions)
  local expiry_changed = c.xe ~= c.stored.xe
  -- Before the save, which keeps the feed score it decides to write (tu).
  local touch_until = index_touch_due(ctx, c)
  if c.dirty or transitions or expiry_changed or c.ex ~= c.stored.ex or c.tu ~= c.stored.tu then save_circuit(ctx.keys.circuit, c) end
  -- The circuit last: a Redis that reads its clock per command (7.0) then
  -- expires no side key after it.
  if expiry_changed then
    local keys = { ctx.keys.probes, ctx.keys.reported, ctx.keys.history, ctx.keys.circuit }
    if c.xe == -1 then
      for _, k in ipairs(keys) do redis.call("PERSIST", k) end
    else
      local ttl = math.max(1, c.xe - ctx.now)
      for _, k in ipairs(keys) do redis.call("PEXPIRE", k, ttl) end
    end
  end
  if transitions or ctx.history_pushed then touch_side_key(ctx, c, ctx.keys.history) end
  index_commit(ctx, c, touch_until)
end

-- Writes the circuit back and appends its transitions to history and the
-- event stream; sets its keys' expiry (idle_expiry_at) when that changed.
local function commit(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
  commit_step(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
  commit_write(ctx, c, idle_ttl_ms, #ctx.out > 0)
end

