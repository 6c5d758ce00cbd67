-- GET with an API key picked at random among N seeded ones ("PREFIX%07d", i in 0..N-1):
--   wrk ... -s random-key.lua URL -- PREFIX N
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua"
local report = require("report")

local prefix, n = "", 1

setup = report.setup

function init(args)
  prefix, n = args[1], tonumber(args[2])
  math.randomseed(os.time() + thread_index * 7919)
end

function request()
  local key = prefix .. string.format("%07d", math.random(0, n - 1))
  return wrk.format("GET", nil, { ["Authorization"] = "ApiKey " .. key }, nil)
end

done = report.done
