-- SPDX-License-Identifier: GPL-2.0-or-later
-- wrk-mix.lua: the request mix of bench/make_capture.py.
-- wrk ... -s wrk-mix.lua URL -- REQUESTS_PER_THREAD
-- Per 100 requests: 3 to /reset/ (nginx answers 444 with a RST: reset_timedout_connection),
-- 20 with "Connection: close" (a new connection for the next one), the rest keep-alive,
-- over files of three sizes. Each thread stops after REQUESTS_PER_THREAD answers or errors.
local limit = 100000
local sent = 0
local done = 0
local files = { "/static/small.txt", "/static/page.html", "/static/app.js" }

function init(args)
   limit = tonumber(args[1]) or limit
end

function request()
   sent = sent + 1
   local r = sent % 100
   local path = files[(sent % 7) % 3 + 1] .. "?id=" .. sent
   if r < 3 then
      return wrk.format("GET", "/reset/" .. sent)
   elseif r < 23 then
      return wrk.format("GET", path, { ["Connection"] = "close" })
   end
   return wrk.format("GET", path)
end

local function count()
   done = done + 1
   if done >= limit then
      wrk.thread:stop()
   end
end

function response(status, headers, body)
   count()
end
