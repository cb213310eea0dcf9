--[[
  Cluster mode only: stamps a transition's stream id into the history entry
  the command script wrote without one (the stream lives in another slot, so
  the replica appends the event itself, after the script). The entry is found
  by generation, unique per transition of a circuit, among the newest 20.
  KEYS[1] the circuit's history list
  ARGV[1] the transition's generation   ARGV[2] its stream id
  Returns 1 when the entry was stamped, 0 when it is gone.
]]
for i, json in ipairs(redis.call("LRANGE", KEYS[1], 0, 19)) do
  local entry = cjson.decode(json)
  if entry.kind == "transition" and entry.event.generation == tonumber(ARGV[1]) then
    entry.event.eventId = ARGV[2]
    redis.call("LSET", KEYS[1], i - 1, cjson.encode(entry))
    return 1
  end
end
return 0
