-- wrk script: HTTP/1.1 pipelining, 16 requests per write (the pipelined row).
-- wrk counts each response, so Requests/sec is responses per second.
-- usage: wrk -s bench/pipeline.lua URL  (depth from the env var PIPELINE_DEPTH)
local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "16")

init = function(args)
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, "/")
  end
  req = table.concat(r)
end

request = function()
  return req
end
