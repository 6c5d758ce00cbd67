-- POST /users/auth/_refresh over many independent session chains:
--   wrk ... -s refresh.lua URL -- TOKENS_FILE
-- TOKENS_FILE has one bearer token per line (one per session). Each thread takes its share.
-- A request takes a session's current token from the pool; its reply's new token goes back to
-- the pool, so every chain has at most one refresh in flight and always uses its newest token.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua"
local report = require("report")

local pool, head, tail = {}, 1, 0
local failed = 0

setup = report.setup

-- wrk calls request() once on thread 0 to check the script before sending anything: that
-- call must not take a token out of the pool.
local verified = false

function init(args)
  local all = report.lines(args[1])
  local nthreads = tonumber(args[2] or "1")
  for i, t in ipairs(all) do
    if (i - 1) % nthreads == thread_index then
      tail = tail + 1
      pool[tail] = t
    end
  end
end

function request()
  local token = "no-session-left"
  if not verified then
    verified = true
    if thread_index == 0 then
      return wrk.format("POST", nil, { ["Authorization"] = "Bearer " .. (pool[head] or token) }, nil)
    end
  end
  if head <= tail then
    token = pool[head]
    pool[head] = nil
    head = head + 1
  end
  return wrk.format("POST", nil, { ["Authorization"] = "Bearer " .. token }, nil)
end

function response(status, headers, body)
  local token = status == 200 and body:match('"token":"([^"]+)"')
  if token then
    tail = tail + 1
    pool[tail] = token
  else
    failed = failed + 1
  end
end

done = report.done
