--[[
  Report batches of several circuits in one call: each circuit's reports
  exactly as report-batch.lua applies them (one load and one store of the
  circuit, includes/report-one per report, in order), one after the other.
  Most of a lone Report's cost in Redis is the script call and its set-up,
  not the circuit, so Reports spread over many circuits share it here as
  one hot circuit's share report-batch.lua. Single server and Sentinel
  only: the circuits' keys are in different Cluster slots. Their key names
  are built here from the prefix, as read-page.lua builds them.
  KEYS[1] event stream   KEYS[2..] the index keys (keys.ts KeySpace.indexes)
  ARGV[1] key prefix   ARGV[2] "" (Redis TIME), or "@<ms>" from a test clock
  ARGV[3] idle TTL ms   ARGV[4] history limit   ARGV[5] event stream max length
  ARGV[6] K, the number of distinct configs   ARGV[7..6+K] resolved configs, packed
  then per circuit: name, version of the explicit settings the caller
  resolved its config with, its config's number (1..K), n its reports, then
  13 arguments per report as report-batch.lua takes them (report.lua's
  eleven, the permit's stream, random [0, 1) for jitter)
  ARGV[#ARGV] "" (the cap: includes/indexes reads it; reports create nothing)
  Returns one JSON string per circuit, in order, each as report-batch.lua
  answers: the replies, {rejected = "missing"} or {staleConfig} (that
  circuit only: its reports changed nothing).
]]
--- @include "includes/config"
--- @include "includes/engine"
-- The shared names includes/prelude defines for report-one.
local prefix = ARGV[1]
local now = clock_ms(ARGV[2])
local idle_ttl_ms, history_limit, events_maxlen = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local events_key = KEYS[1]
--- @include "includes/permit-window"
--- @include "includes/report-one"
local n_configs = tonumber(ARGV[6])
local configs = {}
for i = 1, n_configs do configs[i] = read_config(ARGV[6 + i]) end

local replies = {}
local i = 7 + n_configs
while i < #ARGV do
  local name, version, config_no, n = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local first_report = i + 4
  i = first_report + 13 * n
  local base = prefix .. "{" .. name .. "}"
  local keys = { circuit = base, probes = base .. ":p", reported = base .. ":r", history = base .. ":h", explicit = base .. ":x" }
  -- As includes/prelude: a caller with a stale copy of the settings gets them and sends this circuit's reports again.
  local stored_version = tonumber(redis.call("HGET", keys.explicit, "v") or "0")
  if stored_version ~= version then
    replies[#replies + 1] = cjson.encode({ staleConfig = { version = stored_version, settings = redis.call("HGET", keys.explicit, "s") or "" } })
  else
    local ctx = { name = name, now = now, rand = 0, cfg = configs[config_no], keys = keys, out = {}, use = true }
    local c = load_circuit(keys.circuit, now)
    if not c.exists then
      replies[#replies + 1] = cjson.encode({ rejected = "missing" })
    else
      local out = {}
      for r = 0, n - 1 do
        local a = first_report + 13 * r
        keys.window = base .. ":w:" .. ARGV[a + 11]
        ctx.rand = tonumber(ARGV[a + 12])
        out[r + 1] = report_one(ctx, c, a)
      end
      if ctx.stepped then commit_write(ctx, c, idle_ttl_ms, ctx.transitions) end
      permit_windows_expire(ctx)
      replies[#replies + 1] = cjson.encode(out)
    end
  end
end
return replies
