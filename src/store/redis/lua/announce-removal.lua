--[[
  Announces that a circuit expired while idle: one "rm" entry in the event
  stream, which every replica's event feed hands its watchers as
  circuit_removed (idle_evicted). Every replica's removal announcer runs it
  for the same keyspace notification; the marker lets exactly one of them
  write the entry.
  KEYS[1] the circuit hash   KEYS[2] the circuit's removal marker   KEYS[3] the event stream
  KEYS[4..10] the store-wide indexes (includes/indexes), which drop the circuit
  ARGV[1] circuit name   ARGV[2] marker lifetime ms (idle TTL / 2)   ARGV[3] stream MAXLEN ~
  ARGV[4] "" (Redis TIME), or "@<ms>" from a test clock
  Returns 1 when this call wrote the entry, 0 when another replica did or
  the circuit exists again.
]]
--- @include "includes/indexes"

-- The circuit was used again after it expired (a script found it gone,
-- lazily expired it and created it afresh) before this notification was
-- handled: it exists now, so a removal entry written here would tell
-- watchers it is gone from this stream position on, while a snapshot taken
-- at the same position lists it. A watcher that saw it CLOSED sees no change
-- (it is CLOSED again); one that saw it HALF_OPEN (it expires from there too)
-- sees the new circuit at its next transition. The window is the few ms
-- between the expiry and its notification.
if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
index_drop(ARGV[1])

-- Every replica receives the notification within moments of the others, so
-- the first to set the marker writes the entry and the rest find it set.
-- The marker cannot hide a later expiry of the same circuit: once re-created,
-- a circuit expires only after at least 90 % of the idle TTL without use
-- (includes/engine.lua commit), longer than the marker lives.
if not redis.call("SET", KEYS[2], "1", "NX", "PX", ARGV[2]) then return 0 end

local at
if string.sub(ARGV[4], 1, 1) == "@" then
  at = tonumber(string.sub(ARGV[4], 2))
else
  local t = redis.call("TIME")
  at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
redis.call("XADD", KEYS[3], "MAXLEN", "~", ARGV[3], "*", "rm", ARGV[1], "cause", "idle_evicted", "at", at)
return 1
