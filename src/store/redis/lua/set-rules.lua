--[[
  Compare-and-set of the runtime pattern rules: stores the new list only if
  the stored version is still the one the caller decided from, so concurrent
  Configures of patterns on any replica never lose each other's rules.
  KEYS[1] rules hash {v: version, s: JSON list}
  ARGV[1] the version the caller read   ARGV[2] the new rules, JSON
  Returns 1 when stored (the version is now ARGV[1] + 1), 0 when it changed meanwhile.
]]
local v = tonumber(redis.call("HGET", KEYS[1], "v") or "0")
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call("HSET", KEYS[1], "v", v + 1, "s", ARGV[2])
return 1
