--[[
  Reads a page of circuits as of now, each exactly as read.lua reads one
  (due time-driven transitions applied and committed; no use of the
  circuit), in one call: a ListCircuits page or a Watch snapshot page costs
  one script per page instead of one per circuit (most of read.lua's cost is
  the call and its set-up, not the circuit). Single server and Sentinel only:
  the circuits' keys are in different Cluster slots. Their key names are
  built here from the prefix, as includes/indexes builds a circuit's hash name.
  KEYS[1] event stream   KEYS[2..] the index keys (keys.ts KeySpace.indexes)
  ARGV[1] key prefix   ARGV[2] "" (Redis TIME), or "@<ms>" from a test clock
  ARGV[3] idle TTL ms   ARGV[4] history limit   ARGV[5] event stream max length
  ARGV[6] K, the number of distinct configs   ARGV[7..6+K] resolved configs, packed
  then four per circuit: name, version of the explicit settings the caller
  resolved its config with, its config's number (1..K), random [0, 1) for jitter
  ARGV[#ARGV] "" (the cap: includes/indexes reads it; reads create nothing)
  Returns one JSON string per circuit, in order, each as read.lua's "view"
  answer: {missing = true}, {view, events} or {staleConfig} (that circuit only).
]]
--- @include "includes/config"
--- @include "includes/engine"
local prefix = ARGV[1]
local now = clock_ms(ARGV[2])
local idle_ttl_ms, history_limit, events_maxlen = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local events_key = KEYS[1]
local n_configs = tonumber(ARGV[6])
local configs = {}
for i = 1, n_configs do configs[i] = read_config(ARGV[6 + i]) end

local replies = {}
for i = 7 + n_configs, #ARGV - 1, 4 do
  local name = ARGV[i]
  local base = prefix .. "{" .. name .. "}"
  local keys = { circuit = base, probes = base .. ":p", reported = base .. ":r", history = base .. ":h", explicit = base .. ":x" }
  -- As includes/prelude: a caller with a stale copy of the settings gets them and reads this circuit again.
  local stored_version = tonumber(redis.call("HGET", keys.explicit, "v") or "0")
  if stored_version ~= tonumber(ARGV[i + 1]) then
    replies[#replies + 1] = cjson.encode({ staleConfig = { version = stored_version, settings = redis.call("HGET", keys.explicit, "s") or "" } })
  else
    local ctx = { name = name, now = now, rand = tonumber(ARGV[i + 3]), cfg = configs[tonumber(ARGV[i + 2])], keys = keys, out = {}, use = false }
    local c = load_circuit(keys.circuit, now)
    if not c.exists then
      replies[#replies + 1] = cjson.encode({ missing = true })
    else
      advance(ctx, c)
      commit(ctx, c, idle_ttl_ms, history_limit, events_key, events_maxlen)
      replies[#replies + 1] = cjson.encode({ view = view_of(ctx, c), events = ctx.out })
    end
  end
end
return replies
