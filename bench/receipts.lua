-- wrk script: POST a new, valid consent receipt on every request, and count the 2xx answers.
-- Bodies are prepared in init() so that the load generator spends its CPU time sending, not
-- formatting (the machine is shared with the server under test).
local counters = {}
ok, bad, server = 0, 0, 0  -- globals: done() reads them from each thread (server: 5xx)
local bodies, next_body = {}, 0
local POOL = 30000

local function hex(n)
  local digits = {}
  for i = 1, n do digits[i] = string.format("%x", math.random(0, 15)) end
  return table.concat(digits)
end

local function uuid4()
  return hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-" .. string.format("%x", math.random(8, 11))
    .. hex(3) .. "-" .. hex(12)
end

local function body()
  return string.format(
    '{"receiptId":"%s","visitorId":"%s","site":"demo","policyVersion":%s,"build":"0123456789ab",' ..
    '"textsHash":"%s","language":"fr","action":"accept-all","gpc":false,' ..
    '"choices":{"functional":true,"analytics":true,"advertising":false,"personalization":true,"social":false}}',
    uuid4(), uuid4(), os.getenv("PC_POLICY_VERSION") or "2", string.rep("a", 64))
end

function setup(thread)
  table.insert(counters, thread)
  thread:set("id", #counters)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Origin"] = "http://127.0.0.1:5001"
  for i = 1, POOL do bodies[i] = wrk.format(nil, nil, nil, body()) end
end

function request()
  next_body = next_body + 1
  if next_body > POOL then
    -- Past the pool: fresh receipts (ids must never repeat), made as they are needed.
    return wrk.format(nil, nil, nil, body())
  end
  return bodies[next_body]
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
  if status >= 500 then server = server + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_bad, total_server = 0, 0, 0
  for _, thread in ipairs(counters) do
    total_ok = total_ok + thread:get("ok")
    total_bad = total_bad + thread:get("bad")
    total_server = total_server + thread:get("server")
  end
  io.write(string.format("RECEIPTS ok=%d bad=%d server=%d\n", total_ok, total_bad, total_server))
end
