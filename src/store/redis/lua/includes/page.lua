--[[
  Common start of the page scripts (read-page.lua, report-page.lua), which
  run over many circuits in one call on a single server or Sentinel: parses
  their shared KEYS and ARGV and names each circuit's keys from the prefix,
  as includes/indexes names a circuit's hash. Needs includes/config and
  includes/engine before it.

  KEYS[1] event stream   KEYS[2..] the index keys (keys.ts KeySpace.indexes)
  ARGV[1] key prefix   ARGV[2] "" (Redis TIME), or "@<ms>" from a test clock
  ARGV[3] idle TTL ms   ARGV[4] history limit   ARGV[5] event stream max length
  ARGV[6] K, the number of distinct configs   ARGV[7..6+K] resolved configs, packed
  then the script's per-circuit arguments from ARGV[PAGE_FIRST_ARG]
  ARGV[#ARGV] "" (the cap: includes/indexes reads it; a page creates no circuit)

  Defines: now, idle_ttl_ms, history_limit, events_maxlen, events_key (the
  names includes/prelude defines for one circuit), configs (by number),
  PAGE_FIRST_ARG, page_keys, page_stale_reply.
]]
local prefix = ARGV[1]
local now = clock_ms(ARGV[2])
local idle_ttl_ms, history_limit, events_maxlen = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local events_key = KEYS[1]
local configs = {}
for i = 1, tonumber(ARGV[6]) do configs[i] = read_config(ARGV[6 + i]) end
local PAGE_FIRST_ARG = 7 + #configs

-- Circuit `name`'s keys (ctx.keys), and the base its window keys are named from.
local function page_keys(name)
  local base = prefix .. "{" .. name .. "}"
  return { circuit = base, probes = base .. ":p", reported = base .. ":r", history = base .. ":h", explicit = base .. ":x" }, base
end

-- As includes/prelude: the staleConfig reply (JSON) when the caller resolved
-- the circuit's config with another version of its settings than the stored
-- one, so it reads or sends that circuit again; nil when current.
local function page_stale_reply(keys, version)
  local stored_version = tonumber(redis.call("HGET", keys.explicit, "v") or "0")
  if stored_version == version then return nil end
  return cjson.encode({ staleConfig = { version = stored_version, settings = redis.call("HGET", keys.explicit, "s") or "" } })
end
