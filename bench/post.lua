-- wrk script for `cargo xtask bench`: POST /messages with a distinct message per request, and
-- the summary lines the bench parses.
local counter = 0

request = function()
  counter = counter + 1
  local body = string.format('{"user_name":"load%d","body":"message %d from wrk"}', counter % 50, counter)
  return wrk.format("POST", "/messages", { ["Content-Type"] = "application/json" }, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d non2xx=%d errors=%d duration_us=%d\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout, summary.duration))
  -- Every distinct latency with its count, so rounds merge into exact percentiles.
  for i = 1, #latency do
    local value, count = latency(i)
    io.write(string.format("LATENCY %d %d\n", value, count))
  end
end
