-- Drop events stored before a millisecond, then the oldest until the payloads kept add up
-- to at most a byte cap; the floor rises to the newest id dropped. Every entry carries `o`,
-- the running total of payload bytes appended up to and including it, so the bytes dropped
-- are read off the last entry dropped and the byte cut is found by binary search over ids
-- (a few dozen one-entry reads), never by reading the payloads dropped.
-- KEYS: events stream, log meta hash, dedup index. ARGV: older_than_ms, max_bytes, MAX_SEQ,
-- the id format (both from gateway/engine/ids.py, the one owner of the id format).
-- Returns how many events went.
local MAX_SEQ, ID_FORMAT = tonumber(ARGV[3]), ARGV[4]
local meta = redis.call('HMGET', KEYS[2], 'appended', 'dropped', 'floor')
local appended, dropped = tonumber(meta[1]) or 0, tonumber(meta[2]) or 0
local floor = meta[3] or string.format(ID_FORMAT, 0, 0)
local removed = 0

local function offset(entry)
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'o' then return tonumber(fields[i + 1]) end
  end
  return 0
end

local function at_or_before(ms, seq)
  return redis.call('XREVRANGE', KEYS[1], string.format('%.0f-%d', ms, seq), '-', 'COUNT', 1)[1]
end

local function drop_through(entry)
  local ms, seq = string.match(entry[1], '^(%d+)-(%d+)$')
  ms, seq = tonumber(ms), tonumber(seq)
  removed = removed + redis.call('XTRIM', KEYS[1], 'MINID', string.format('%.0f-%d', ms, seq + 1))
  dropped = offset(entry)
  local id = string.format(ID_FORMAT, ms, seq)
  if id > floor then floor = id end
end

if tonumber(ARGV[1]) > 0 then
  local old = redis.call('XREVRANGE', KEYS[1], '(' .. ARGV[1] .. '-0', '-', 'COUNT', 1)[1]
  if old then drop_through(old) end
end

local max_bytes = tonumber(ARGV[2])
if appended - dropped > max_bytes then
  local target = appended - max_bytes
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
  if first and last then
    -- the first millisecond whose last entry reaches the target, then the first seq in it
    local lo = tonumber(string.match(first[1], '^(%d+)-'))
    local hi = tonumber(string.match(last[1], '^(%d+)-'))
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      local entry = at_or_before(mid, MAX_SEQ)
      if entry and offset(entry) >= target then hi = mid else lo = mid + 1 end
    end
    local slo, shi = 0, MAX_SEQ
    while slo < shi do
      local mid = math.floor((slo + shi) / 2)
      local entry = at_or_before(lo, mid)
      if entry and offset(entry) >= target then shi = mid else slo = mid + 1 end
    end
    drop_through(at_or_before(lo, slo))
  end
end

redis.call('HSET', KEYS[2], 'dropped', string.format('%.0f', dropped), 'floor', floor)
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%.0f', now))
return removed
