--[[
  The change feed of the Watch status rounds (status-feed.ts): trims the
  touched index (includes/indexes.lua index_touch) to the retention, then
  answers the circuits whose view may have changed since the cursor's time:
  those whose score (until when their view may change with no script
  writing it) is at or after it, less the clock skew allowed for a failover
  to a server with another clock. The trim is here, not in the commands: the
  hot path only adds. Single server and Sentinel only.
  KEYS[1] rules hash {v, s, epoch}   KEYS[2] the touched index (keys.ts KeySpace.touched)
  ARGV[1] "" (Redis TIME), or "@<ms>" from a test clock
  ARGV[2] the cursor's time (ms), or "" for none   ARGV[3] retention ms   ARGV[4] skew ms
  Returns {now, rules version, data epoch, names} with names false when the
  index does not reach back to the cursor (or there is none): read everything.
]]
local now
if string.sub(ARGV[1], 1, 1) == "@" then
  now = tonumber(string.sub(ARGV[1], 2))
else
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local version = redis.call("HGET", KEYS[1], "v") or "0"
local epoch = redis.call("HGET", KEYS[1], "epoch") or ""
local horizon = now - tonumber(ARGV[3])
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", "(" .. horizon)
local from = tonumber(ARGV[2])
if from == nil or from - tonumber(ARGV[4]) < horizon then return { now, version, epoch, false } end
return { now, version, epoch, redis.call("ZRANGEBYSCORE", KEYS[2], from - tonumber(ARGV[4]), "+inf") }
