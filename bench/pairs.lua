-- Closed-loop order -> payment pairs for wrk (bench.cost runs it).
--   BENCH_PAIRS_OUT=out.txt wrk -t N -c N -d 15s -s bench/pairs.lua http://127.0.0.1:8000 -- KEY SECRET
-- One connection per wrk thread, so each thread's Lua state is one client: it creates an order,
-- then a payment for it, and times the pair with the monotonic clock. done() writes
-- "pairs errors duration_us" and then one pair latency (ms) per line to $BENCH_PAIRS_OUT.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local now = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
  return tonumber(now.tv_sec) * 1000 + tonumber(now.tv_nsec) / 1e6
end

local threads = {}
-- done() runs in wrk's main Lua state, which init() never sees: the path comes from outside.
local out_file = os.getenv("BENCH_PAIRS_OUT")

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  headers = {
    ["Content-Type"] = "application/json",
    ["X-Api-Key"] = args[1],
    ["X-Api-Secret"] = args[2],
  }
  order_request = wrk.format("POST", "/api/v1/orders", headers, '{"amount":50000}')
  order_id = nil
  started = 0
  completed = 0
  errors = 0
  latencies = {}
end

function request()
  if order_id then
    local body = '{"order_id":"' .. order_id .. '","method":"upi","vpa":"bench@upi"}'
    return wrk.format("POST", "/api/v1/payments", headers, body)
  end
  started = now_ms()
  return order_request
end

function response(status, response_headers, body)
  if order_id then
    order_id = nil
    if status == 201 then
      completed = completed + 1
      latencies[completed] = now_ms() - started
    else
      errors = errors + 1
    end
  elseif status == 201 then
    order_id = body:match('"id":"(order_%w+)"')
    if not order_id then
      errors = errors + 1
    end
  else
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local total_pairs, total_errors, lines = 0, 0, {}
  for _, thread in ipairs(threads) do
    total_pairs = total_pairs + thread:get("completed")
    total_errors = total_errors + thread:get("errors")
    for _, ms in ipairs(thread:get("latencies")) do
      lines[#lines + 1] = string.format("%.3f", ms)
    end
  end
  local out = assert(io.open(out_file, "w"))
  out:write(string.format("%d %d %d\n", total_pairs, total_errors, summary.duration))
  out:write(table.concat(lines, "\n"), "\n")
  out:close()
end
