-- wrk script for `cargo xtask bench`: the newest page of 100, and the summary lines the bench
-- parses (`summary.lua`).
request = function()
  return wrk.format("GET", "/messages?limit=100")
end

-- The summary lines, from the file next to this one.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "summary.lua")
