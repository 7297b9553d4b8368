-- KEYS: none besides the slot's (built from ARGV[1]).
-- ARGV: p, due_at, cursor name ('' for no move), expected ('' never set), to, has_expected,
--   max queued bytes, max dead letters, max dead bytes, attempt log size,
--   then per delivery: subscriber, id, event id, lane ('' none), stored value, payload
--   bytes, pending record json.
-- Returns the number of new deliveries, or -1 when the cursor was elsewhere.
local p, due_at = ARGV[1], tonumber(ARGV[2])
local max_queued, max_letters, max_dead = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local log_size = tonumber(ARGV[10])
if ARGV[3] ~= '' then
  local current = redis.call('HGET', p .. ':cursors', ARGV[3])
  if ARGV[6] == '1' then
    if current ~= ARGV[4] then return -1 end
  elseif current then
    return -1
  end
  redis.call('HSET', p .. ':cursors', ARGV[3], ARGV[5])
end
local added, touched, dropped = 0, {}, {}
for i = 11, #ARGV, 7 do
  local s, id, event_id, lane = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if dropped[s] == nil then dropped[s] = redis.call('SISMEMBER', p .. ':dropped', s) == 1 end
  if not dropped[s] and redis.call('HEXISTS', k(p, 'rec', s), id) == 0 then
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
for s in pairs(touched) do
  -- Past the queued-bytes cap the oldest queued deliveries become dead letters.
  while tonumber(redis.call('HGET', k(p, 'sub', s), 'queued') or '0') > max_queued do
    local oldest = redis.call('ZRANGE', k(p, 'order', s), 0, 0)[1]
    local value = forget(p, s, oldest)
    local header, nl = header_of(value)
    local record = cjson.encode({eventId = header.e, attempt = header.a, status = 'dead',
      responseStatus = cjson.null, error = 'queue over its byte cap', at = due_at,
      nextAttemptAt = cjson.null})
    keep_dead_letter(p, s, header.e, record, string.sub(value, nl + 1), max_letters, max_dead)
    redis.call('HINCRBY', p .. ':stats', 'overflowed', 1)
  end
  refresh(p, s)
end
return added
