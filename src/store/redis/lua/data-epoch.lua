--[[
  The data epoch (data-epoch.ts): a random id kept in the rules hash, field
  "epoch", so it goes with the rules whenever Redis loses them. The first
  replica to ask stores its id; the id never changes while the data lasts,
  so a different id, or having to store one, means Redis lost its data.
  KEYS[1] rules hash {v, s, epoch}
  ARGV[1] the id to store when there is none
  Returns the stored id (ARGV[1] when this call stored it).
]]
redis.call("HSETNX", KEYS[1], "epoch", ARGV[1])
return redis.call("HGET", KEYS[1], "epoch")
