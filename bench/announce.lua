-- announce.lua - wrk script for the swarmd benchmark: varied HTTP announces, keep-alive.
--
--   wrk -t1 -c64 -d10s -s bench/announce.lua http://127.0.0.1:PORT -- HASHFILE [N] [close]
--
-- HASHFILE holds hex info-hashes, one a line (udpload --print-hashes N writes the same ones
-- the UDP prefill used, and opentracker's whitelist holds them); the first N are used (all by
-- default). Every request announces a different (info_hash, port, peer_id) from a bounded
-- set of 60000 peers, so swarms stay bounded instead of growing without end: request c of
-- the cycle announces torrent c * 7919 mod N from port 1024 + c mod 60000.
-- 75 % of the announces are seeders (left=0). "close" adds a Connection: close header, to
-- model clients that open a new connection per announce.
-- Each reply is checked: a status other than 200, or a bencoded "failure reason", counts as
-- a failure; done() prints "wrk_failures=N wrk_checked=M".

local hashes = {}
local headers = {}
failures = 0 -- globals: done() reads them from each thread with t:get()
checked = 0
local threads = {}

-- Runs once per thread in the main Lua state: hand each thread its number.
function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

local function pct_encode(hex)
    -- Every byte as %XX: valid for any byte value and exactly what a client may send.
    return (hex:gsub("(%x%x)", "%%%1"))
end

local function make(c)
    local h = hashes[(c * 7919) % #hashes + 1]
    local slot = c % 60000
    local left = (slot % 4 == 0) and "1048576" or "0"
    local path = "/announce?info_hash=" .. h ..
        "&peer_id=-WK0001-" .. string.format("%012d", slot) ..
        "&port=" .. (1024 + slot) ..
        "&uploaded=0&downloaded=0&left=" .. left ..
        "&compact=1&numwant=50"
    return wrk.format("GET", path, headers)
end

-- The set is periodic in c (60000 requests), so it is built once in init() and cycled:
-- building each request in Lua would make wrk, not the server, the bottleneck.
local pool = {}
local pool_size = 60000
local pos = 0

function init(args)
    local file, limit, mode = args[1], tonumber(args[2] or ""), args[3]
    if not file then
        error("announce.lua: pass the hash file after --")
    end
    for line in io.lines(file) do
        if #line >= 40 then
            table.insert(hashes, pct_encode(line:sub(1, 40)))
            if limit and #hashes >= limit then
                break
            end
        end
    end
    if #hashes == 0 then
        error("announce.lua: no hashes in " .. file)
    end
    if mode == "close" then
        headers["Connection"] = "close"
    end
    for c = 1, pool_size do
        pool[c] = make(c)
    end
    -- Threads start at different places in the cycle so they do not send the same announces
    -- at the same moment.
    pos = ((tid or 0) * 7919) % pool_size
end

function request()
    pos = pos % pool_size + 1
    return pool[pos]
end

function response(status, hdrs, body)
    checked = checked + 1
    if status ~= 200 or body:find("failure reason", 1, true) then
        failures = failures + 1
    end
end

function done(summary, latency, requests)
    local f, n = 0, 0
    for _, t in ipairs(threads) do
        f = f + (t:get("failures") or 0)
        n = n + (t:get("checked") or 0)
    end
    io.write(string.format("wrk_failures=%d wrk_checked=%d\n", f, n))
end
