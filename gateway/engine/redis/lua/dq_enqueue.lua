-- KEYS: every key of the slot it can touch that the caller can name (`deliveries.py`).
-- ARGV: p, due_at, cursor name ('' for no move), expected ('' never set), to, has_expected,
--   max queued bytes, max dead letters, max dead bytes, attempt log size, due_at as the
--   text of an attempt record's `at`, the overflow error, then per delivery: subscriber, id, event id, lane ('' none), stored value, payload
--   bytes, pending record json.
-- Returns the number of new deliveries, or -1 when the cursor was elsewhere.
local p, due_at = ARGV[1], tonumber(ARGV[2])
local max_queued, max_letters, max_dead = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local log_size, at_text, overflow_error = tonumber(ARGV[10]), ARGV[11], ARGV[12]
if ARGV[3] ~= '' then
  local current = redis.call('HGET', p .. ':cursors', ARGV[3])
  if ARGV[6] == '1' then
    if current ~= ARGV[4] then return -1 end
  elseif current then
    return -1
  end
  redis.call('HSET', p .. ':cursors', ARGV[3], ARGV[5])
end
local added, touched = 0, {}
for i = 13, #ARGV, 7 do
  local s, id, event_id, lane = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call('HEXISTS', k(p, 'rec', s), id) == 0 then
    added = added + 1
    touched[s] = true
    redis.call('HSET', k(p, 'rec', s), id, ARGV[i + 4])
    redis.call('ZADD', k(p, 'order', s), redis.call('HINCRBY', p .. ':stats', 'seq', 1), id)
    add_bytes(p, s, 'queued', tonumber(ARGV[i + 5]))
    redis.call('HINCRBY', k(p, 'sub', s), 'depth', 1)
    redis.call('HINCRBY', p .. ':stats', 'depth', 1)
    if lane ~= '' and redis.call('HEXISTS', k(p, 'lanes', s), lane) == 1 then
      redis.call('ZADD', k(p, 'lane', s) .. ':' .. lane, 0, event_id .. ' ' .. id)
    else
      if lane ~= '' then redis.call('HSET', k(p, 'lanes', s), lane, id) end
      redis.call('ZADD', k(p, 'due', s), due_at, id)
    end
    log_attempt(p, s, id .. '#1', ARGV[i + 6], true, log_size)
  end
end
-- The delivery enqueued first that is not claimed under an unexpired lease.
local function oldest_unclaimed(s)
  redis.call('ZREMRANGEBYSCORE', k(p, 'leases', s), '-inf', ARGV[2])
  local offset = 0
  while true do
    local page = redis.call('ZRANGE', k(p, 'order', s), offset, offset + 99)
    if #page == 0 then return nil end
    for _, id in ipairs(page) do
      if not redis.call('ZSCORE', k(p, 'leases', s), id) then return id end
    end
    offset = offset + #page
  end
end

-- Past the queued-bytes cap the oldest unclaimed deliveries die, each with its latest
-- attempt record turned dead (as `overflowed_record` in `engine/deliveries.py` makes it).
local function overflow(s)
  while tonumber(redis.call('HGET', k(p, 'sub', s), 'queued') or '0') > max_queued do
    local id = oldest_unclaimed(s)
    if not id then return end
    local value = forget(p, s, id)
    local header, nl = header_of(value)
    local key = id .. '#' .. math.max(header.a, 1)
    local latest = redis.call('HGET', k(p, 'att', s), key)
    local record
    if latest then
      record = cjson.decode(latest)
    else
      record = {eventId = header.e, attempt = math.max(header.a, 1),
        responseStatus = cjson.null, at = at_text}
    end
    record.status, record.error, record.nextAttemptAt = 'dead', overflow_error, cjson.null
    record = cjson.encode(record)
    log_attempt(p, s, key, record, false, log_size)
    keep_dead_letter(p, s, header.e, record, string.sub(value, nl + 1), max_letters, max_dead)
    redis.call('HINCRBY', p .. ':stats', 'overflowed', 1)
  end
end

for s in pairs(touched) do
  overflow(s)
  refresh(p, s)
end
return added
