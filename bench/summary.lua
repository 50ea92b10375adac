-- The `done` of `bench/`'s wrk scripts: the lines the `cargo xtask bench` harness parses.
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
