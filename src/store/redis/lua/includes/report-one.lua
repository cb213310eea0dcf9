--[[
  One Report applied to a loaded circuit: the body of report.lua, shared with
  report-batch.lua, which applies several to one load of the circuit. Needs
  includes/engine, includes/prelude and includes/permit-window before it.

  report_one(ctx, c, a): applies the report whose arguments are ARGV[a..a+10]
  (permit token, permit generation, kind c p s d, expires at ms, outcome,
  duration ms, retry-after hint ms, reporter's key name ("": no principal),
  reporter's agent instance id, permit seq ("": a legacy permit), slots of a
  stream's window) to circuit `c` (load_circuit, existing), its permit's
  stream window being ctx.keys.window (includes/permit-window), and
  answers its reply table: {state, disposition, recordedOutcome, duplicate,
  stale, events} or {rejected = problem, ...}. Its transitions go to the
  stream and history at once (commit_step), in order; the circuit itself is
  written by one commit_write after the last report, when ctx.stepped says a
  report needs it (ctx.transitions: whether any made a transition). Uses and
  resets ctx.out and ctx.principal; ctx.now and ctx.rand are the caller's.

  report_batch(ctx, c, first, n, window_prefix): n reports applied in order
  to one load of the circuit (below).
]]
-- A report's end: commits its step (commit_step: its transitions to the
-- stream and history, in order) and notes that the circuit needs writing.
-- These helpers take what they need as arguments rather than being closures
-- inside report_one: a batch runs report_one per report, and a closure is an
-- allocation each time.
local function report_step(ctx, c)
  commit_step(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
  ctx.stepped = true
  if #ctx.out > 0 then ctx.transitions = true end
end

local function report_finish(ctx, c, res)
  report_step(ctx, c)
  res.events = ctx.out
  return res
end

local function report_refused(ctx, c, problem)
  report_step(ctx, c)
  return { rejected = problem, events = ctx.out }
end

-- A permit reported before: nothing changes; the first outcome stands.
local function report_repeated(ctx, c, outcome, first)
  -- A permit reported before outcomes were kept answers as a duplicate.
  if first == "" then first = outcome end
  return report_finish(ctx, c, {
    state = visible_state(c, ctx.cfg), disposition = first == outcome and "DUPLICATE" or "CONFLICT",
    recordedOutcome = first, duplicate = true, stale = false,
  })
end

local function report_done(ctx, c, outcome, stale)
  return report_finish(ctx, c, {
    state = visible_state(c, ctx.cfg), disposition = stale and "STALE" or "RECORDED",
    recordedOutcome = outcome, duplicate = false, stale = stale,
  })
end

-- A current permit's call, counted in the window, the reporter lists and the failure run.
local function report_count(c, cfg, now, failed, duration, key_name, instance)
  local slow = (not failed) and cfg.slow_call_duration > 0 and duration > cfg.slow_call_duration
  local start = record_call(c, cfg, now, failed, slow)
  record_reporter(c, key_name, instance, start, failed, slow)
  if failed then c.cf = c.cf + 1 else c.cf = 0 end
end

-- The transition `t` a report drove names the reporters whose failures opened it.
local function opened_by(t, reporters)
  if #reporters > 0 then t.failureReporters = reporters end
end

local function report_one(ctx, c, a)
  ctx.out = {}
  ctx.principal = nil
  local cfg = ctx.cfg
  local permit, gen, kind = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2]
  local expires_text, outcome = ARGV[a + 3], ARGV[a + 4]
  local expires = tonumber(expires_text)
  local duration, hint = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  local key_name, instance = ARGV[a + 7], ARGV[a + 8]
  local seq_text, slots_text = ARGV[a + 9], ARGV[a + 10]

  if gen > c.g then return { rejected = "unknown" } end
  advance(ctx, c)
  -- Every transition from here on is this report's doing (time's came above).
  if key_name ~= "" then ctx.principal = { keyName = key_name, agentInstanceId = instance } end

  if ctx.now >= expires then
    report_step(ctx, c)
    return { rejected = "expired", now = ctx.now, events = ctx.out }
  end

  local current = gen == c.g
  -- A probe report when that probe is not outstanding records nothing: a
  -- repeated one answers DUPLICATE or CONFLICT (its slot is already free),
  -- any other is refused.
  local is_probe = kind == "p" and current
  if is_probe and (c.s ~= "HALF_OPEN" or not redis.call("ZSCORE", ctx.keys.probes, permit)) then
    local first = permit_seen(ctx, permit, seq_text, tonumber(slots_text))
    if first == "forgotten" then return report_refused(ctx, c, "forgotten") end
    if first then return report_repeated(ctx, c, outcome, first) end
    return report_refused(ctx, c, "probe")
  end
  local first = permit_claim(ctx, c, permit, expires_text, seq_text, outcome, tonumber(slots_text))
  if first == "forgotten" then return report_refused(ctx, c, "forgotten") end
  if first then return report_repeated(ctx, c, outcome, first) end
  c.dirty = true
  if outcome == "SUCCESS" then c.ts = c.ts + 1
  elseif outcome == "FAILURE" then c.tf = c.tf + 1
  elseif outcome == "TIMEOUT" then c.tf = c.tf + 1; c.tt = c.tt + 1
  else c.ti = c.ti + 1 end

  if is_probe then redis.call("ZREM", ctx.keys.probes, permit) end
  if outcome == "IGNORED" then return report_done(ctx, c, outcome, not current) end
  if not current then return report_done(ctx, c, outcome, true) end

  local failed = outcome == "FAILURE" or outcome == "TIMEOUT"
  if kind == "s" then return report_done(ctx, c, outcome, false) end
  if kind == "d" then
    report_count(c, cfg, ctx.now, failed, duration, key_name, instance)
    return report_done(ctx, c, outcome, false)
  end
  if kind == "c" then
    report_count(c, cfg, ctx.now, failed, duration, key_name, instance)
    if c.s == "CLOSED" and cfg.enabled then
      local reason, reporters = trip_of(c, cfg, ctx.now)
      if reason ~= nil then opened_by(open(ctx, c, reason, hint), reporters) end
    end
    return report_done(ctx, c, outcome, false)
  end
  -- a probe
  if c.s ~= "HALF_OPEN" then return report_done(ctx, c, outcome, false) end
  if failed then
    -- A failed probe reopens whatever min_distinct_reporters says: it is one permit of few.
    local t = reopen_from_half_open(ctx, c, outcome == "TIMEOUT" and "probe_timeout" or "probe_failed", hint)
    opened_by(t, { { keyName = key_name, agentInstanceId = instance } })
    return report_done(ctx, c, outcome, false)
  end
  c.hs = c.hs + 1
  if c.hs >= cfg.success_threshold then
    clear_counters(c)
    transition(ctx, c, "CLOSED", "probes_succeeded")
  end
  return report_done(ctx, c, outcome, false)
end

-- A batch of `n` reports of circuit `c` (load_circuit, existing), 13
-- arguments each from ARGV[first] on: report_one's eleven, the permit's
-- stream (its window key is `window_prefix` .. stream) and random [0, 1)
-- for jitter. Applies them in order, writes the circuit once and sets the
-- windows' expiry; answers the replies, in order (report-batch.lua,
-- report-page.lua).
local function report_batch(ctx, c, first, n, window_prefix)
  local replies = {}
  for r = 0, n - 1 do
    local a = first + 13 * r
    ctx.keys.window = window_prefix .. ARGV[a + 11]
    ctx.rand = tonumber(ARGV[a + 12])
    replies[r + 1] = report_one(ctx, c, a)
  end
  if ctx.stepped then commit_write(ctx, c, idle_ttl_ms, ctx.transitions) end
  permit_windows_expire(ctx)
  return replies
end
