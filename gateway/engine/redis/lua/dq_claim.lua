-- ARGV: p, subscriber, now, limit, lease seconds, max in flight, rate per second ('' none).
-- Returns {id, stored value, claim token, ...} of the deliveries claimed.
local p, s, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local limit, lease, max_in_flight = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('SISMEMBER', p .. ':parked', s) == 1 then return {} end
redis.call('ZREMRANGEBYSCORE', k(p, 'leases', s), '-inf', num(now))
local room = math.min(limit, max_in_flight - redis.call('ZCARD', k(p, 'leases', s)))
local tokens, bucket_at
if ARGV[7] ~= '' then
  local rate = tonumber(ARGV[7])
  local capacity = math.max(rate, 1)
  local state = redis.call('HMGET', k(p, 'sub', s), 'tokens', 'at')
  tokens = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
  room = math.min(room, math.floor(tokens))
  bucket_at = math.max(at, now)
else
  redis.call('HDEL', k(p, 'sub', s), 'tokens', 'at')
end
local claimed = {}
if room > 0 then
  local ids = redis.call('ZRANGEBYSCORE', k(p, 'due', s), '-inf', num(now), 'LIMIT', 0, room)
  for _, id in ipairs(ids) do
    redis.call('ZADD', k(p, 'due', s), num(now + lease), id)
    redis.call('ZADD', k(p, 'leases', s), num(now + lease), id)
    local token = tostring(redis.call('HINCRBY', p .. ':stats', 'claims', 1))
    redis.call('HSET', k(p, 'claims', s), id, token)
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = redis.call('HGET', k(p, 'rec', s), id)
    claimed[#claimed + 1] = token
  end
  if tokens then tokens = tokens - #ids end
end
if tokens then redis.call('HSET', k(p, 'sub', s), 'tokens', num(tokens), 'at', num(bucket_at)) end
refresh(p, s)
return claimed
