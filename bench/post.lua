-- wrk script for `cargo xtask bench`: POST /messages with a distinct message per request, and
-- the summary lines the bench parses (`summary.lua`).
local counter = 0

request = function()
  counter = counter + 1
  local body = string.format('{"user_name":"load%d","body":"message %d from wrk"}', counter % 50, counter)
  return wrk.format("POST", "/messages", { ["Content-Type"] = "application/json" }, body)
end

-- The summary lines, from the file next to this one.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "summary.lua")
