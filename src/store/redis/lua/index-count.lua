--[[
  The number of circuits Redis holds (single server and Sentinel), for the
  breakerbox_circuits gauge: drops a bounded batch of index entries whose
  circuit Redis expired (includes/indexes index_prune), then counts.
  KEYS[1..7] the index keys (keys.ts KeySpace.indexes)
  ARGV[1] "" (Redis TIME), or "@<ms>" from a test clock   ARGV[2] "" (the cap, unused here)
  Returns the count.
]]
--- @include "includes/indexes"
local now = index_clock(ARGV[1])
index_prune(now)
return index_count(now)
