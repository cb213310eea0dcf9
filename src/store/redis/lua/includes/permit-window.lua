--[[
  Which permits a circuit was told of, without remembering each: the twin of
  src/engine/permit-window.ts (see it for the rule). A permit of this release
  is the seq-th of one issuing stream; the stream's window is one string key
  (keys.ts `{circuit}:w:<stream>`, KEYS[6]): `top`, the highest seq reported
  + 1 (0: none), as BITFIELD i64 at bit 0, then one 4-bit slot per seq mod
  `slots` at u4 #(16 + slot): 0 not reported, else the outcome that counted.
  The string grows only as far as slots are used; it expires with the latest
  permit recorded in it, so it needs no pruning.

  A legacy permit (5-field body, no seq: ARGV seq "") is remembered by body
  in the reported zset as before (reported_score in includes/engine); that
  path goes with those permits in a later release.
]]
local WINDOW_OUTCOMES = { "SUCCESS", "FAILURE", "TIMEOUT", "IGNORED" }
local WINDOW_CODES = { SUCCESS = 1, FAILURE = 2, TIMEOUT = 3, IGNORED = 4 }

-- The outcome that counted for the permit if it was reported before ("" when
-- a legacy permit was recorded before outcomes were kept), "forgotten" when
-- its stream's window no longer reaches it, nil when it is new. Changes
-- nothing: for a Report that records nothing (permit_claim records).
-- `seq_text`: the permit's seq in decimal, "" for a legacy permit.
local function permit_seen(ctx, permit, seq_text, slots)
  if seq_text == "" then
    local score = redis.call("ZSCORE", ctx.keys.reported, permit)
    if not score then return nil end
    return reported_outcome(score) or ""
  end
  local seq = tonumber(seq_text)
  local r = redis.call("BITFIELD_RO", ctx.keys.window, "GET", "i64", 0, "GET", "u4", "#" .. (16 + seq % slots))
  local top = r[1]
  if seq >= top then return nil end
  if seq < top - slots then return "forgotten" end
  return WINDOW_OUTCOMES[r[2]]
end

-- Zeroes slots [from, from + n) mod `slots` (n <= slots). Slots past the
-- string's end are zero already and stay unwritten, so the string does not grow.
local function window_clear(key, from, n, slots)
  local inside = (redis.call("STRLEN", key) - 8) * 2
  local done = 0
  while done < n do
    local lo = (from + done) % slots
    local run = math.min(n - done, slots - lo)
    local hi = math.min(lo + run, inside) -- exclusive
    if lo < hi then
      local ops = {}
      if lo % 2 == 1 then
        ops[#ops + 1] = "SET"; ops[#ops + 1] = "u4"; ops[#ops + 1] = "#" .. (16 + lo); ops[#ops + 1] = 0
        lo = lo + 1
      end
      local even_hi = hi - hi % 2
      if even_hi < hi and even_hi >= lo then
        ops[#ops + 1] = "SET"; ops[#ops + 1] = "u4"; ops[#ops + 1] = "#" .. (16 + even_hi); ops[#ops + 1] = 0
      end
      if #ops > 0 then redis.call("BITFIELD", key, unpack(ops)) end
      if lo < even_hi then redis.call("SETRANGE", key, 8 + lo / 2, string.rep("\0", (even_hi - lo) / 2)) end
    end
    done = done + run
  end
end

-- Records `outcome` for the permit unless it was reported before, and
-- answers like permit_seen: nil when it recorded it, else the outcome that
-- counted ("" unknown) or "forgotten", having changed nothing. A windowed
-- permit is taken to be its stream's next (seq = top), which Reports in
-- order are: one BITFIELD then both records it and reads what it replaced;
-- any other seq puts back or completes what that call did.
local function permit_claim(ctx, c, permit, expires_text, seq_text, outcome, slots)
  if seq_text == "" then
    local first = permit_seen(ctx, permit, seq_text, slots)
    if first ~= nil then return first end
    redis.call("ZADD", ctx.keys.reported, reported_score(expires_text, outcome), permit)
    touch_side_key(ctx, c, ctx.keys.reported)
    return nil
  end
  local key, seq = ctx.keys.window, tonumber(seq_text)
  local slot, code = "#" .. (16 + seq % slots), WINDOW_CODES[outcome]
  local r = redis.call("BITFIELD", key, "SET", "i64", 0, seq + 1, "SET", "u4", slot, code)
  local top, old = r[1], r[2]
  if seq < top then
    local first
    if seq < top - slots then first = "forgotten" elseif old ~= 0 then first = WINDOW_OUTCOMES[old] end
    if first ~= nil then
      redis.call("BITFIELD", key, "SET", "i64", 0, top, "SET", "u4", slot, old)
      return first
    end
    -- A late permit of the window: recorded; the top stays.
    redis.call("BITFIELD", key, "SET", "i64", 0, top)
  elseif seq > top and top > 0 then
    -- The slots it passed over belong to seqs more than `slots` back, or to
    -- none yet; clearing them all (it went round the window) clears its own.
    window_clear(key, top % slots, math.min(seq - top, slots), slots)
    if seq - top >= slots then redis.call("BITFIELD", key, "SET", "u4", slot, code) end
  end
  -- The key's expiry is set once per script (permit_windows_expire), to the
  -- latest expiry recorded in it, relative to the script's clock (a test
  -- clock is not Redis's).
  local pending = ctx.window_expiry
  if pending == nil then
    pending = {}
    ctx.window_expiry = pending
  end
  local ttl, p = tonumber(expires_text) - ctx.now, pending[key]
  if p == nil then
    pending[key] = { ttl = ttl, new = top == 0 }
  else
    if ttl > p.ttl then p.ttl = ttl end
    if top == 0 then p.new = true end
  end
  return nil
end

-- After a script's reports: sets each window key a report recorded in to
-- expire with the latest permit recorded in it. A key new in this script has
-- no expiry, which GT treats as infinite (it would set none); an older one
-- keeps a later expiry it has (GT).
local function permit_windows_expire(ctx)
  if ctx.window_expiry == nil then return end
  for key, p in pairs(ctx.window_expiry) do
    if p.new then redis.call("PEXPIRE", key, p.ttl) else redis.call("PEXPIRE", key, p.ttl, "GT") end
  end
  ctx.window_expiry = nil
end
