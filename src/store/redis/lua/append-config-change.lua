--[[
  Records a config change a pattern rule made to one circuit (or any other
  change made outside configure.lua): history and event stream, through
  includes/config-history. No use of the circuit: its expiry stays where it
  was, and the history list, which this may create, gets the circuit's
  remaining time (none while the circuit does not expire), so it never
  outlives the circuit.
  KEYS[1] the circuit hash   KEYS[2] the circuit's history list
  KEYS[3] the event stream (absent in Cluster mode)
  ARGV[1] circuit name   ARGV[2] the history entry JSON {kind = "config", change}
  ARGV[3] history limit  ARGV[4] event stream max length
  Returns the history entry JSON as recorded, or nil (nothing recorded) when
  the circuit is gone: it expired after the caller listed it, and a history
  written now would outlive it.
]]
--- @include "includes/config-history"
local ttl = redis.call("PTTL", KEYS[1])
if ttl == -2 then return false end
local json = record_config_change(KEYS[2], tonumber(ARGV[3]), KEYS[3], tonumber(ARGV[4]), ARGV[1], cjson.decode(ARGV[2]))
expire_with_circuit(KEYS[1], KEYS[2])
return json
