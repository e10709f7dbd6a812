-- wrk script (mlserve/benchmarking/wrk.py): POST the bodies of a file, each once, in order.
-- Environment: WRK_BODIES  the file, repeated "<length>\n<body bytes>"
--              WRK_PATH    the request path
--              WRK_HEADERS "name: value|name: value"
--              WRK_START   the body to start from (a warm-up run takes others than the run)
-- Thread t (of at most 8) starts (t-1)/8 of the way through, so threads send different bodies.
-- Past the last body it wraps around (the caller writes more bodies than it will send).

local bodies = {}
local count = 0
local next_index = 0
local path = "/"
local headers = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

function init(args)
  local file = assert(io.open(os.getenv("WRK_BODIES"), "rb"))
  while true do
    local line = file:read("*l")
    if not line then break end
    count = count + 1
    bodies[count] = file:read(tonumber(line))
  end
  file:close()
  assert(count > 0, "WRK_BODIES holds no body")
  path = os.getenv("WRK_PATH") or "/"
  for name, value in string.gmatch(os.getenv("WRK_HEADERS") or "", "([^:|]+):%s*([^|]+)") do
    headers[name] = value
  end
  local start = tonumber(os.getenv("WRK_START") or "0")
  local share = math.floor(count / 8)
  next_index = (start + (thread_number - 1) * share) % count
end

function request()
  next_index = next_index % count + 1
  return wrk.format("POST", path, headers, bodies[next_index])
end
