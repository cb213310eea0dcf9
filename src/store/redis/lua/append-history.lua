--[[
  Adds a config change to a circuit's history (a pattern rule changed the
  circuit's config; the replica records it outside the circuit's scripts),
  with its position (includes/history).
  KEYS[1] the circuit's history list
  ARGV[1] the entry JSON {kind = "config", change = {..., at}}   ARGV[2] history limit
]]
--- @include "includes/history"
local entry = cjson.decode(ARGV[1])
push_history(KEYS[1], entry, entry.change.at, tonumber(ARGV[2]))
return 1
