--[[
  The one place a config change of a circuit is recorded: pushed onto its
  history and, for watchers, appended to the event stream as a "cc" entry
  (the circuit name, then "h" and the same history entry JSON; event-feed.ts
  reads it). Every script that records a config change calls this, so none
  can record one that watchers do not see. In Cluster mode (events_key nil:
  the stream lives in another slot) the caller appends the stream entry
  itself right after the script.
]]
local function record_config_change(history_key, history_limit, events_key, events_maxlen, name, entry)
  local json = cjson.encode(entry)
  redis.call("LPUSH", history_key, json)
  redis.call("LTRIM", history_key, 0, history_limit - 1)
  if events_key ~= nil then
    redis.call("XADD", events_key, "MAXLEN", "~", events_maxlen, "*", "cc", name, "h", json)
  end
  return json
end
