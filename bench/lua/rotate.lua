-- One request, with the Authorization header taken in turn from a file:
--   wrk ... -s rotate.lua URL -- METHOD BODY AUTH_FILE
-- AUTH_FILE has one full header value per line ("Bearer ...").
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua"
local report = require("report")

local auths, i, method, body = {}, 0, "GET", nil
local headers = {}

setup = report.setup

function init(args)
  method = args[1]
  if args[2] and args[2] ~= "" then
    body = args[2]
    headers["Content-Type"] = "application/json"
  end
  auths = report.lines(args[3])
  i = thread_index
end

function request()
  i = i + 1
  headers["Authorization"] = auths[(i % #auths) + 1]
  return wrk.format(method, nil, headers, body)
end

done = report.done
