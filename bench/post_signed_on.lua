-- wrk script for `cargo xtask bench`: POST /messages as signed-on users, each request with a
-- token in `Authorization: Bearer`, so every message is stored verified. The harness passes the
-- users after `--` as NAME=TOKEN.
local counter = 0
local users = {}

init = function(args)
  for _, arg in ipairs(args) do
    local name, token = arg:match("^([^=]+)=(.+)$")
    users[#users + 1] = { name = name, auth = "Bearer " .. token }
  end
end

request = function()
  counter = counter + 1
  local user = users[counter % #users + 1]
  local body = string.format('{"user_name":"%s","body":"message %d from wrk"}', user.name, counter)
  return wrk.format("POST", "/messages",
    { ["Content-Type"] = "application/json", ["Authorization"] = user.auth }, body)
end

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "summary.lua")
