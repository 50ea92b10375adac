-- wrk script for `cargo xtask bench`: POST spread over many rooms, each request to the next of
-- `/rooms/r0/messages` … `/rooms/r<N-1>/messages`. The harness passes N after `--`.
local counter = 0
local rooms = 1000

init = function(args)
  if args[1] then rooms = tonumber(args[1]) end
end

request = function()
  counter = counter + 1
  local path = string.format("/rooms/r%d/messages", counter % rooms)
  local body = string.format('{"user_name":"load%d","body":"message %d from wrk"}', counter % 50, counter)
  return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
end

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "summary.lua")
