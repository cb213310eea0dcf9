--[[
  Puts one existing circuit into the store-wide indexes (includes/indexes):
  the indexes are built by the scripts that create and change circuits, so
  circuits created before they existed (an upgrade) are added once by a
  replica's start-up backfill (circuit-index.ts), one call per circuit found
  by SCAN.
  KEYS[1] the circuit hash   KEYS[2..7] the index keys (keys.ts KeySpace.indexes)
  ARGV[1] circuit name   ARGV[2] "" (Redis TIME), or "@<ms>" from a test clock   ARGV[3] "" (unused cap)
  Returns 1 when indexed, 0 when the circuit is gone.
]]
--- @include "includes/indexes"
local state = redis.call("HGET", KEYS[1], "s")
if not state then return 0 end
local now = index_clock(ARGV[2])
local name = ARGV[1]
redis.call("ZADD", IDX_NAMES, 0, name)
if IDX_STATES[state] then redis.call("ZADD", IDX_STATES[state], 0, name) end
local ttl = redis.call("PTTL", KEYS[1])
redis.call("ZADD", IDX_EXPIRY, ttl == -1 and "+inf" or now + ttl, name)
return 1
