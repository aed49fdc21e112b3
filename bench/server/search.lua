-- GET /api/memory/search with a rotating set of queries.
-- Words from add.lua's vocabulary: each matches about 1 memory in 250.
local queries = {}
for i = 0, 499 do
  table.insert(queries, "topic" .. i)
  table.insert(queries, "theme" .. ((i * 31) % 500) .. "%20topic" .. i)
end
local threads = {}
local n = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
  failed = 0
end

request = function()
  n = n + 1
  return wrk.format("GET", "/api/memory/search?mode=lexical&limit=10&q=" .. queries[(n % #queries) + 1],
    {["Authorization"] = "Bearer " .. os.getenv("KIOKU_TOKEN")})
end

response = function(status, headers, body)
  if status == 200 then ok = ok + 1 else failed = failed + 1 end
end

done = function(summary, latency, requests)
  local o, f = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    f = f + t:get("failed")
  end
  io.write(string.format('WRK_JSON {"requests":%d,"ok":%d,"failed":%d,"socket_errors":%d,"rps":%.1f,"p50_ms":%.2f,"p99_ms":%.2f}\n',
    summary.requests, o, f, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
