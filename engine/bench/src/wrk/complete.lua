-- wrk script: POST /api/v1/tasks/{id}/complete for the task ids listed in the file $TASKS,
-- each id once: thread n of N takes every Nth line. A thread stops when its ids run out.
local key = os.getenv("KEY")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  ids = {}
  local n = 0
  for line in io.lines(os.getenv("TASKS")) do
    if n % tonumber(os.getenv("THREADS")) == tid then
      table.insert(ids, line)
    end
    n = n + 1
  end
  next_id = 1
  ok, other = 0, 0
end

function request()
  local id = ids[next_id]
  if id == nil then
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  next_id = next_id + 1
  return wrk.format("POST", "/api/v1/tasks/" .. id .. "/complete",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key},
    '{"outcome": "accept"}')
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_other = total_other + t:get("other")
  end
  io.write(string.format("completed: %d, other answers: %d\n", total_ok, total_other))
end
