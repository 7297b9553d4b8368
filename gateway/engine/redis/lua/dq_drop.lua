-- ARGV: p, subscriber. Forget everything of the subscriber: a later `conclude` of one of
-- its deliveries finds no record and writes nothing.
local p, s = ARGV[1], ARGV[2]
local state = redis.call('HMGET', k(p, 'sub', s), 'queued', 'dead', 'depth')
redis.call('HINCRBY', p .. ':stats', 'queued', int(-(tonumber(state[1]) or 0)))
redis.call('HINCRBY', p .. ':stats', 'dead', int(-(tonumber(state[2]) or 0)))
redis.call('HINCRBY', p .. ':stats', 'depth', int(-(tonumber(state[3]) or 0)))
for _, lane in ipairs(redis.call('HKEYS', k(p, 'lanes', s))) do
  redis.call('DEL', k(p, 'lane', s) .. ':' .. lane)
end
for _, name in ipairs({'sub', 'rec', 'due', 'order', 'leases', 'claims', 'lanes', 'dead', 'deadorder',
  'att', 'attorder'}) do
  redis.call('DEL', k(p, name, s))
end
redis.call('ZREM', p .. ':subs', s)
redis.call('SREM', p .. ':parked', s)
return 0
