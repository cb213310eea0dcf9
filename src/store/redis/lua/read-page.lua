--[[
  Reads a page of circuits as of now, each exactly as read.lua reads one
  (due time-driven transitions applied and committed; no use of the
  circuit), in one call: a ListCircuits page or a Watch snapshot page costs
  one script per page instead of one per circuit (most of read.lua's cost is
  the call and its set-up, not the circuit). Single server and Sentinel only:
  the circuits' keys are in different Cluster slots.
  KEYS and ARGV as includes/page lists them, with four per circuit: name,
  version of the explicit settings the caller resolved its config with, its
  config's number (1..K), random [0, 1) for jitter.
  Returns one JSON string per circuit, in order, each as read.lua's "view"
  answer: {missing = true}, {view, events} or {staleConfig} (that circuit only).
]]
--- @include "includes/config"
--- @include "includes/engine"
--- @include "includes/page"
local replies = {}
for i = PAGE_FIRST_ARG, #ARGV - 1, 4 do
  local name = ARGV[i]
  local keys = page_keys(name)
  local stale = page_stale_reply(keys, tonumber(ARGV[i + 1]))
  if stale ~= nil then
    replies[#replies + 1] = stale
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
