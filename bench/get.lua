-- wrk script for `cargo xtask bench`: the newest page of 100 (of `/messages`, or of the path the
-- harness passes after `--`), and the summary lines the bench parses (`summary.lua`).
local path = "/messages?limit=100"

init = function(args)
  if args[1] then path = args[1] end
end

request = function()
  return wrk.format("GET", path)
end

-- The summary lines, from the file next to this one.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "summary.lua")
