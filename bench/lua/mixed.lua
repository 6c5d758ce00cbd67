-- Mixed traffic, per 109 requests: 1 login, 8 refreshes, 100 GET /account:
--   wrk ... -s mixed.lua BASE_URL -- TOKENS_FILE NTHREADS APIKEY USER PASSWORD
-- Refreshes use session chains as in refresh.lua; every login starts a new chain.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua"
local report = require("report")

local pool, head, tail = {}, 1, 0
local n = 0
local apikey, login_body

setup = report.setup

-- wrk calls request() once on thread 0 to check the script before sending anything: that
-- call must not take a token out of the pool.
local verified = false

function init(args)
  local all = report.lines(args[1])
  local nthreads = tonumber(args[2])
  for i, t in ipairs(all) do
    if (i - 1) % nthreads == thread_index then
      tail = tail + 1
      pool[tail] = t
    end
  end
  apikey = args[3]
  login_body = string.format('{"username":"%s","password":"%s"}', args[4], args[5])
end

function request()
  if not verified then
    verified = true
    if thread_index == 0 then
      return wrk.format("GET", "/api/v1/account", { ["Authorization"] = "ApiKey " .. apikey }, nil)
    end
  end
  local k = n % 109
  n = n + 1
  if k == 0 then
    return wrk.format("POST", "/api/v1/users/auth/_login",
      { ["Content-Type"] = "application/json" }, login_body)
  elseif k <= 8 and head <= tail then
    local token = pool[head]
    pool[head] = nil
    head = head + 1
    return wrk.format("POST", "/api/v1/users/auth/_refresh",
      { ["Authorization"] = "Bearer " .. token }, nil)
  end
  return wrk.format("GET", "/api/v1/account", { ["Authorization"] = "ApiKey " .. apikey }, nil)
end

function response(status, headers, body)
  local token = status == 200 and body:match('"token":"([^"]+)"')
  if token then
    tail = tail + 1
    pool[tail] = token
  end
end

done = report.done
