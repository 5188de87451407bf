-- wrk script: every request posts a CampaignActivated event with a unique id and key.
-- `thread_id` is a global that setup() gives each thread, so ids never collide.
counter = 0
thread_id = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function request()
  counter = counter + 1
  local id = string.format("t%d-%d-%d", thread_id, os.time(), counter)
  local body = '{"id":"' .. id .. '","type":"CampaignActivated","data":{"campaignId":"' .. id .. '","advertising":"bench"}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status ~= 202 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
