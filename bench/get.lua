-- wrk script for `cargo xtask bench`: the newest page of 100, and the summary lines the bench
-- parses.
request = function()
  return wrk.format("GET", "/messages?limit=100")
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d non2xx=%d errors=%d\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
  io.write(string.format("BENCH p50_us=%d p99_us=%d\n", latency:percentile(50), latency:percentile(99)))
end
