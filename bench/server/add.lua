-- POST /api/memory with content unique per request (thread id + counter), so
-- every request that answers 201 must be one more row: lost writes show up
-- as a difference between the 201s counted here and the rows counted after.
local counter = 0

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  created = 0
  failed = 0
end

request = function()
  counter = counter + 1
  -- Two topic words from a vocabulary of 500, so searches match a few
  -- dozen memories out of thousands, as real queries do.
  local body = string.format('{"content":"load test memory %d-%d about topic%d and theme%d","tags":["load"]}',
    thread_id, counter, (counter * 7 + thread_id) % 500, (counter * 13) % 500)
  return wrk.format("POST", "/api/memory", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("KIOKU_TOKEN")}, body)
end

response = function(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    failed = failed + 1
    if failed <= 3 then io.write("add answered ", status, ": ", body, "\n") end
  end
end

done = function(summary, latency, requests)
  local c, f = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    f = f + t:get("failed")
  end
  io.write(string.format('WRK_JSON {"requests":%d,"created":%d,"failed":%d,"socket_errors":%d,"rps":%.1f,"p50_ms":%.2f,"p99_ms":%.2f}\n',
    summary.requests, c, f, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
