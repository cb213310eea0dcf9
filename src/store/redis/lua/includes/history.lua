--[[
  A circuit's history list (newest first, JSON entries). push_history is the
  Lua twin of src/store/history-page.ts nextHistoryPosition: each entry gets
  `life` (the time the history's first entry was recorded) and `seq` (one
  more than the newest entry's), which never change afterwards, so a
  GetHistory page token stays valid while entries are recorded. Reading the
  newest entry and pushing happen in one script, so positions are unique.

  Defines: push_history, expire_with_circuit.
]]

-- Gives `key`, one of a circuit's side keys, the circuit hash's remaining
-- time, so it goes no later than the circuit; nothing when the circuit does
-- not expire (or is gone). One ms less: a Redis that reads its clock per
-- command (7.0) would otherwise count the time from the PEXPIRE, a moment
-- after the PTTL, and could keep the key a ms longer than the circuit.
local function expire_with_circuit(circuit_key, key)
  local ttl = redis.call("PTTL", circuit_key)
  if ttl > 0 then redis.call("PEXPIRE", key, math.max(1, ttl - 1)) end
end

-- Pushes `entry` (a table, recorded at `at` ms) and trims the list to `limit` entries.
local function push_history(key, entry, at, limit)
  local head = redis.call("LINDEX", key, 0)
  local newest = head and cjson.decode(head)
  if newest and newest.seq then
    entry.life = newest.life
    entry.seq = newest.seq + 1
  else
    -- An empty history (or one written before positions existed) starts a new life.
    entry.life = at
    entry.seq = 1
  end
  redis.call("LPUSH", key, cjson.encode(entry))
  redis.call("LTRIM", key, 0, limit - 1)
end
