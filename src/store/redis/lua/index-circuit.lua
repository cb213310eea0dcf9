--[[
  Puts one existing circuit into the store-wide indexes (includes/indexes):
  the indexes are built by the scripts that create and change circuits, so
  circuits created before they existed (an upgrade) are added once by a
  replica's start-up backfill (circuit-index.ts), one call per circuit found
  by SCAN. Also a rebuild: it puts the circuit in its current state's zset
  only, and rescored by its keys' remaining time.
  KEYS[1] the circuit hash   KEYS[2..8] the index keys (keys.ts KeySpace.indexes)
  ARGV[1] circuit name   ARGV[2] "" (Redis TIME), or "@<ms>" from a test clock   ARGV[3] "" (unused cap)
  Returns 1 when indexed, 0 when the circuit is gone.
]]
--- @include "includes/indexes"
local state = redis.call("HGET", KEYS[1], "s")
if not state then return 0 end
local now = index_clock(ARGV[2])
local name = ARGV[1]
redis.call("ZADD", IDX_NAMES, 0, name)
-- In its own state's zset and no other (a rebuild after a rolling upgrade corrects stale entries).
for s, key in pairs(IDX_STATES) do
  if s == state then redis.call("ZADD", key, 0, name) else redis.call("ZREM", key, name) end
end
local ttl = redis.call("PTTL", KEYS[1])
redis.call("ZADD", IDX_EXPIRY, ttl == -1 and "+inf" or now + ttl, name)
-- In the change feed with the time-driven changes ahead of it (its config,
-- hence its window, is not known here: the replica's first status round reads
-- every circuit anyway).
index_touch(name, state, now, 0, tonumber(redis.call("HGET", KEYS[1], "ou") or "0"))
return 1
