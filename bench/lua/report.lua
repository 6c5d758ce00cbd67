-- Shared by every script: prints one machine-readable line for bench/harness.py.
local report = {}

function report.done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, secs, summary.requests / secs, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end

-- Lines of a file, as a list.
function report.lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

-- Gives each wrk thread an index (call from setup()); read it in init() as `thread_index`.
local threads_seen = 0
function report.setup(thread)
  thread:set("thread_index", threads_seen)
  threads_seen = threads_seen + 1
end

return report
