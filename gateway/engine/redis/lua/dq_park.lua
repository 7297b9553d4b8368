-- ARGV: p, subscriber, "park" or "unpark", now. Unparking makes every held delivery that
-- is not claimed visible from now and ends the subscriber's run of failures.
local p, s, now = ARGV[1], ARGV[2], tonumber(ARGV[4])
if ARGV[3] == 'park' then
  redis.call('SADD', p .. ':parked', s)
else
  redis.call('SREM', p .. ':parked', s)
  redis.call('HDEL', k(p, 'sub', s), 'failing')
  redis.call('ZREMRANGEBYSCORE', k(p, 'leases', s), '-inf', num(now))
  for _, id in ipairs(redis.call('ZRANGE', k(p, 'due', s), 0, -1)) do
    if not redis.call('ZSCORE', k(p, 'leases', s), id) then
      redis.call('ZADD', k(p, 'due', s), num(now), id)
    end
  end
end
refresh(p, s)
return 0
