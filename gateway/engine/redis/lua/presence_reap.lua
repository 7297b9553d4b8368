-- KEYS: change feed, instances zset. ARGV: key prefix, now ms.
-- Removes every session of every instance whose heartbeat expired (or that never beat);
-- the hubs that changed.
local prefix, now = ARGV[1], tonumber(ARGV[2])
local changed, marked = {}, {}
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
for _, instance in ipairs(redis.call('SMEMBERS', prefix .. 'holders')) do
  if not redis.call('ZSCORE', KEYS[2], instance) then gone[#gone + 1] = instance end
end
for _, instance in ipairs(gone) do
  for _, member in ipairs(redis.call('SMEMBERS', instance_key(prefix, instance))) do
    local pair = cjson.decode(member)
    if remove_session(prefix, pair[1], pair[2]) and not marked[pair[1]] then
      marked[pair[1]] = true
      changed[#changed + 1] = pair[1]
    end
  end
  redis.call('DEL', instance_key(prefix, instance))
  redis.call('SREM', prefix .. 'holders', instance)
  redis.call('ZREM', KEYS[2], instance)
end
return announce(changed)
