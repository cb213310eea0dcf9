--[[
  Report batches of several circuits in one call: each circuit's reports
  exactly as report-batch.lua applies them (one load and one store of the
  circuit, includes/report-one per report, in order), one after the other.
  Most of a lone Report's cost in Redis is the script call and its set-up,
  not the circuit, so Reports spread over many circuits share it here as
  one hot circuit's share report-batch.lua. Single server and Sentinel
  only: the circuits' keys are in different Cluster slots.
  KEYS and ARGV as includes/page lists them, with per circuit: name, version
  of the explicit settings the caller resolved its config with, its config's
  number (1..K), n its reports, then 13 arguments per report as
  report-batch.lua takes them (report.lua's eleven, the permit's stream,
  random [0, 1) for jitter).
  Returns one JSON string per circuit, in order, each as report-batch.lua
  answers: the replies, {rejected = "missing"} or {staleConfig} (that
  circuit only: its reports changed nothing).
]]
--- @include "includes/config"
--- @include "includes/engine"
--- @include "includes/page"
--- @include "includes/permit-window"
--- @include "includes/report-one"
local replies = {}
local i = PAGE_FIRST_ARG
while i < #ARGV do
  local name, version, config_no, n = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local first_report = i + 4
  i = first_report + 13 * n
  local keys, base = page_keys(name)
  local stale = page_stale_reply(keys, version)
  if stale ~= nil then
    replies[#replies + 1] = stale
  else
    local ctx = { name = name, now = now, rand = 0, cfg = configs[config_no], keys = keys, out = {}, use = true }
    local c = load_circuit(keys.circuit, now)
    if not c.exists then
      replies[#replies + 1] = cjson.encode({ rejected = "missing" })
    else
      replies[#replies + 1] = cjson.encode(report_batch(ctx, c, first_report, n, base .. ":w:"))
    end
  end
end
return replies
