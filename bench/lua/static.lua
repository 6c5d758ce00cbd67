-- One fixed request: wrk ... -s static.lua URL -- METHOD [BODY]
-- (headers such as Authorization come from wrk -H).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua"
local report = require("report")

function init(args)
  wrk.method = args[1] or "GET"
  if args[2] and args[2] ~= "" then
    wrk.body = args[2]
    wrk.headers["Content-Type"] = "application/json"
  end
end

done = report.done
