--[[
  Records a config change a pattern rule made to one circuit (or any other
  change made outside configure.lua): history and event stream, through
  includes/config-history.
  KEYS[1] the circuit's history list   KEYS[2] the event stream (absent in Cluster mode)
  ARGV[1] circuit name   ARGV[2] the history entry JSON {kind = "config", change}
  ARGV[3] history limit  ARGV[4] event stream max length
  Returns the history entry JSON as recorded.
]]
--- @include "includes/config-history"
return record_config_change(KEYS[1], tonumber(ARGV[3]), KEYS[2], tonumber(ARGV[4]), ARGV[1], cjson.decode(ARGV[2]))
