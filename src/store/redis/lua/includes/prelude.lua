--[[
  Common start of every circuit command: parses the shared KEYS and ARGV,
  checks the caller's copy of the circuit's explicit settings is current, and
  defines the names the command bodies use. Needs includes/config and
  includes/engine before it.

  KEYS[1] circuit hash   KEYS[2] probes zset   KEYS[3] reported zset
  KEYS[4] history list   KEYS[5] explicit-settings hash
  KEYS[6] a permit stream's window (Report: includes/permit-window; else a name never used)
  KEYS[7] event stream (absent in Cluster mode: the caller appends events)

  ARGV[1] circuit name   ARGV[2] "" (Redis TIME), or "@<ms>" from a test clock
  ARGV[3] random [0, 1) for jitter
  ARGV[4] version of the explicit settings the caller resolved the config with
  ARGV[5] idle TTL ms    ARGV[6] history limit   ARGV[7] event stream max length
  ARGV[8] resolved config, packed (lua-config.ts packConfig; read_config reads it)
  ARGV[9..] command arguments

  Defines: ctx {name, now, rand, cfg, keys, out, use}, idle_ttl_ms, history_limit,
  events_key (nil in Cluster mode), events_maxlen.

  A caller whose explicit-settings version is stale gets
  {"staleConfig": {"version": v, "settings": json}} and must retry.
]]
local ctx = {
  name = ARGV[1],
  now = clock_ms(ARGV[2]),
  rand = tonumber(ARGV[3]),
  cfg = read_config(ARGV[8]),
  keys = { circuit = KEYS[1], probes = KEYS[2], reported = KEYS[3], history = KEYS[4], explicit = KEYS[5], window = KEYS[6] },
  out = {},
  -- Whether this command is a use of the circuit, which keeps an idle CLOSED
  -- circuit from expiring (includes/engine commit); read.lua clears it.
  use = true,
}
local idle_ttl_ms = tonumber(ARGV[5])
local history_limit = tonumber(ARGV[6])
local events_key = KEYS[7]
local events_maxlen = tonumber(ARGV[7])

local stored_version = tonumber(redis.call("HGET", KEYS[5], "v") or "0")
if stored_version ~= tonumber(ARGV[4]) then
  return cjson.encode({ staleConfig = { version = stored_version, settings = redis.call("HGET", KEYS[5], "s") or "" } })
end
