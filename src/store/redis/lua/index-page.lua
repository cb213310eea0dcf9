--[[
  One page of candidate names for ListCircuits, in name order, from the
  store-wide indexes (includes/indexes; single server and Sentinel). The
  caller reads each candidate (read.lua applies due transitions) and keeps
  those in the state it asked for, so a candidate list may hold a few that
  turn out not to match, never miss one that does:
  - "all": every circuit (the names zset);
  - "sets": the circuits in the state zsets named in ARGV[5..] (a listing
    by OPEN or HALF_OPEN asks both: a read may move a circuit between them);
  - "closed": the names zset minus every state zset, looking at most
    ARGV[4] * 4 names per call (the rest of the store may be non-CLOSED).
  KEYS[1..7] the index keys (keys.ts KeySpace.indexes)
  ARGV[1] mode   ARGV[2] ZRANGEBYLEX start bound ("-", "[<prefix>" or "(<after>")
  ARGV[3] ZRANGEBYLEX end bound ("+" or "[<prefix>\xff")   ARGV[4] most names to answer
  ARGV[5..] state zsets, for "sets"
  Returns { done (1: nothing follows the last name looked at), last name looked at or "", names... }.
]]
--- @include "includes/indexes"
local mode, min, max, want = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local out = {}
if mode == "all" then
  local names = redis.call("ZRANGEBYLEX", IDX_NAMES, min, max, "LIMIT", 0, want)
  return { #names < want and 1 or 0, names[#names] or "", unpack(names) }
elseif mode == "sets" then
  -- Merge the sets' first `want` names each; past the `want`th of the merge,
  -- a set may have names not fetched, so the page ends there.
  local merged, seen, full = {}, {}, false
  for i = 5, #ARGV do
    local names = redis.call("ZRANGEBYLEX", IDX_STATES[ARGV[i]], min, max, "LIMIT", 0, want)
    if #names == want then full = true end
    for _, n in ipairs(names) do
      if not seen[n] then seen[n] = true; merged[#merged + 1] = n end
    end
  end
  table.sort(merged)
  for i = 1, math.min(want, #merged) do out[i] = merged[i] end
  local done = (not full and #merged <= want) and 1 or 0
  return { done, out[#out] or "", unpack(out) }
else -- closed
  local look = want * 4
  local names = redis.call("ZRANGEBYLEX", IDX_NAMES, min, max, "LIMIT", 0, look)
  for _, n in ipairs(names) do
    local other = false
    for _, key in pairs(IDX_STATES) do
      if redis.call("ZSCORE", key, n) then other = true; break end
    end
    if not other then out[#out + 1] = n end
  end
  return { #names < look and 1 or 0, names[#names] or "", unpack(out) }
end
