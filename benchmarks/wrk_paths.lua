-- wrk script for benchmarks/load_wrk.py: GET the paths in WRK_PATHS ("|"-separated) in turn, with
-- the logged-in session's cookie (WRK_COOKIE) on every request, and print one JSON line at the end.
-- Every answer other than 200 counts as an error (a lost session answers 302 to the login page).
local paths = {}
for p in string.gmatch(os.getenv("WRK_PATHS") or "/", "[^|]+") do paths[#paths + 1] = p end
local cookie = os.getenv("WRK_COOKIE") or ""
local threads = {}
local counter = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not_ok = 0  -- global in each thread's state, read in done()
end

function request()
  counter = counter + 1
  local headers = {}
  if cookie ~= "" then headers["Cookie"] = cookie end
  return wrk.format("GET", paths[(counter % #paths) + 1], headers)
end

function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("not_ok") end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
