--[[
  The store-wide circuit indexes and the circuit cap (single server and
  Sentinel; in Cluster mode a script reaches only its circuit's slot, so the
  indexes are absent and these functions do nothing but honour a cap the
  replica decided: docs/design.md §Stores). Needs includes/prelude before it.

  The index keys are the last seven KEYS of a script (keys.ts KeySpace.indexes):
  names zset:  every circuit, score 0, member the name (ZRANGEBYLEX pages it by name)
  expiry zset: every circuit, score the ms at which Redis expires its keys
               (the hash's xe, set by includes/engine.lua commit), "+inf" while
               it does not expire
  touched zset: the change feed of the Watch status rounds (status-changes.lua):
               each circuit a script changed, score the ms until which its view
               may go on changing with no script writing it (index_touch); the
               feed's read trims it, not the commands
  state zsets (score 0) of the circuits whose stored state is OPEN,
               HALF_OPEN, FORCED_OPEN, DISABLED (CLOSED has none: it is the rest)
  ARGV[#ARGV] the cap: "<n>" counts the circuits here and refuses the
           (n+1)th; "full": the replica counted the store full (Cluster);
           "": no cap.

  Redis expires an idle circuit's keys without running a script, so its index
  entries stay behind: the expiry zset says when that happened, so the count
  (ZCOUNT of the deadlines still ahead) is exact without visiting them, and
  index_prune drops at most a batch of those overdue per call, checking each
  one's keys (a deadline past on a test clock but not on Redis's is rescored).

  Defines: INDEXED, index_clock, index_commit, index_touch, index_touch_due, index_prune, index_drop, index_count, cap_refusal.
]]
-- Cluster mode passes no index keys: the last key is then the circuit's own.
local IDX_AT = #KEYS - 6
local INDEXED = IDX_AT >= 1 and string.sub(KEYS[#KEYS], -12) == "idx:DISABLED"
local IDX_NAMES, IDX_EXPIRY, IDX_TOUCHED = KEYS[IDX_AT], KEYS[IDX_AT + 1], KEYS[IDX_AT + 2]
local IDX_STATES = { OPEN = KEYS[IDX_AT + 3], HALF_OPEN = KEYS[IDX_AT + 4], FORCED_OPEN = KEYS[IDX_AT + 5], DISABLED = KEYS[IDX_AT + 6] }
-- The key prefix, for the circuit hash of an index member: the names key is "<prefix>idx:names".
local IDX_KEY_PREFIX = INDEXED and string.sub(IDX_NAMES, 1, #IDX_NAMES - #"idx:names") or nil
local CIRCUIT_CAP = ARGV[#ARGV]
-- Overdue entries dropped per call: bounds the work one Acquire can be made to do.
local PRUNE_BATCH = 100

-- ARGV's clock argument in ms: "" is Redis TIME, "@<ms>" a test clock.
local function index_clock(arg)
  if string.sub(arg, 1, 1) == "@" then return tonumber(string.sub(arg, 2)) end
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Removes a circuit from every index (its keys are gone).
local function index_drop(name)
  redis.call("ZREM", IDX_NAMES, name)
  redis.call("ZREM", IDX_EXPIRY, name)
  redis.call("ZREM", IDX_TOUCHED, name)
  for _, key in pairs(IDX_STATES) do redis.call("ZREM", key, name) end
end

-- Drops up to PRUNE_BATCH index entries whose deadline is not after `now` and
-- whose circuit Redis no longer holds; a circuit still held is rescored from
-- its keys' remaining time. Answers how many entries it looked at.
local function index_prune(now)
  if not INDEXED then return 0 end
  local due = redis.call("ZRANGEBYSCORE", IDX_EXPIRY, "-inf", now, "LIMIT", 0, PRUNE_BATCH)
  for _, name in ipairs(due) do
    local ttl = redis.call("PTTL", IDX_KEY_PREFIX .. "{" .. name .. "}")
    if ttl == -2 then index_drop(name)
    elseif ttl == -1 then redis.call("ZADD", IDX_EXPIRY, "+inf", name)
    else redis.call("ZADD", IDX_EXPIRY, now + ttl, name) end
  end
  return #due
end

-- The circuits Redis holds at `now`: those whose deadline is still ahead
-- (at its deadline a circuit counts as gone, as on the memory store).
local function index_count(now)
  return redis.call("ZCOUNT", IDX_EXPIRY, "(" .. now, "+inf")
end

-- Before creating a circuit: true when the store holds its cap already
-- (the command then answers {capReached = true} and writes no circuit key).
local function cap_refusal(now)
  if CIRCUIT_CAP == "full" then return true end
  local cap = tonumber(CIRCUIT_CAP)
  if cap == nil or not INDEXED then return false end
  index_prune(now)
  return index_count(now) >= cap
end

-- Until when the change feed must name `name` (in stored `state`) after a
-- change at `now`: until its view may change with no script writing it,
-- which a read then applies (includes/engine.lua advance, window_counts):
-- its window counts slide for a window after the change (kept as 10
-- buckets: 1.1 windows, as the memory store reckons), an OPEN circuit turns
-- HALF_OPEN at its open until, a HALF_OPEN one reopens when a probe times out.
local function touch_bound(name, state, now, window_ms, open_until)
  local until_ms = now + math.ceil(window_ms * 1.1)
  if state == "OPEN" then
    until_ms = math.max(until_ms, open_until)
  elseif state == "HALF_OPEN" then
    local last = redis.call("ZRANGE", IDX_KEY_PREFIX .. "{" .. name .. "}:p", -1, -1, "WITHSCORES")
    if #last > 0 then until_ms = math.max(until_ms, tonumber(last[2])) end
  end
  return until_ms
end

-- Records in the change feed that `name` changed at `now` (touch_bound).
-- GT: a later, shorter change keeps the longer bound.
local function index_touch(name, state, now, window_ms, open_until)
  redis.call("ZADD", IDX_TOUCHED, "GT", touch_bound(name, state, now, window_ms, open_until), name)
end

-- Whether a command's change of circuit `c` needs a new feed score, and
-- which (nil: none). A change of what its view shows is a stored field
-- written (c.dirty), a transition, a new circuit, or any use of a HALF_OPEN
-- circuit (a granted probe changes its in-flight count and sets no field);
-- a command that changed nothing a view shows (an Acquire granted on a
-- CLOSED circuit; a read that applied no transition) is not recorded, so the
-- status rounds' own reads do not keep a circuit in the feed.
-- The bound is rounded up to a bucket width (a tenth of the window) and the
-- score last written is kept in the hash (c.tu, which this sets; the caller
-- saves it): the feed's score is at least c.tu (ZADD GT only raises it; the
-- feed's trim drops only scores a retention in the past, below any bound a
-- command computes), so a bound no later than c.tu is there already. A
-- circuit under steady Reports then writes the feed once per bucket, not
-- once per Report; rounding up only names it a little longer.
local function index_touch_due(ctx, c)
  if not INDEXED then return nil end
  if c.exists and not c.dirty and #ctx.out == 0 and not (c.s == "HALF_OPEN" and ctx.use) then return nil end
  local window_ms = ctx.cfg.window
  local grain = math.max(1, math.floor(window_ms / 10))
  local until_ms = math.ceil(touch_bound(ctx.name, c.s, ctx.now, window_ms, c.ou) / grain) * grain
  if until_ms <= c.tu then return nil end
  c.tu = until_ms
  return until_ms
end

-- After commit(): records a new circuit, a change of stored state and a new
-- expiry deadline (commit set or cleared the keys' expiry: c.xe moved), and
-- writes the change feed's score `touch_until` (index_touch_due; nil: none).
local function index_commit(ctx, c, touch_until)
  if not INDEXED then return end
  if touch_until ~= nil then redis.call("ZADD", IDX_TOUCHED, "GT", touch_until, ctx.name) end
  local was = c.stored.s
  if not c.exists then
    redis.call("ZADD", IDX_NAMES, 0, ctx.name)
    -- A name can be re-created before the prune dropped its old life's entries
    -- (Redis expired it by TTL): a stale state entry would hide it from CLOSED listings.
    for _, key in pairs(IDX_STATES) do redis.call("ZREM", key, ctx.name) end
  end
  if was ~= c.s then
    if was and IDX_STATES[was] then redis.call("ZREM", IDX_STATES[was], ctx.name) end
    if IDX_STATES[c.s] then redis.call("ZADD", IDX_STATES[c.s], 0, ctx.name) end
  end
  if not c.exists or c.xe ~= c.stored.xe then
    redis.call("ZADD", IDX_EXPIRY, c.xe == -1 and "+inf" or c.xe, ctx.name)
  end
end
