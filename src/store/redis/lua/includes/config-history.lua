--[[
  The one place a config change of a circuit is recorded: pushed onto its
  history with its position (includes/history) and, for watchers, appended
  to the event stream as a "cc" entry (the circuit name, then "h" and the
  same history entry JSON; event-feed.ts reads it). Every script that
  records a config change calls this, so none can record one that watchers
  do not see or that GetHistory cannot page through. In Cluster mode
  (events_key nil: the stream lives in another slot) the caller appends the
  stream entry itself right after the script.

  Defines: record_config_change.
]]
--- @include "includes/history"

local function record_config_change(history_key, history_limit, events_key, events_maxlen, name, entry)
  push_history(history_key, entry, entry.change.at, history_limit)
  local json = cjson.encode(entry)
  if events_key ~= nil then
    redis.call("XADD", events_key, "MAXLEN", "~", events_maxlen, "*", "cc", name, "h", json)
  end
  return json
end
