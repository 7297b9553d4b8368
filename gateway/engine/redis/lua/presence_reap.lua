-- KEYS: change feed, instances zset. ARGV: key prefix, now ms.
-- Removes every session of every instance whose heartbeat expired; the hubs that changed.
local prefix = ARGV[1]
local changed, marked = {}, {}
for _, instance in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])) do
  for _, member in ipairs(redis.call('SMEMBERS', instance_key(prefix, instance))) do
    local pair = cjson.decode(member)
    if remove_session(prefix, pair[1], pair[2]) and not marked[pair[1]] then
      marked[pair[1]] = true
      changed[#changed + 1] = pair[1]
    end
  end
  redis.call('DEL', instance_key(prefix, instance))
  redis.call('ZREM', KEYS[2], instance)
end
return announce(changed)
