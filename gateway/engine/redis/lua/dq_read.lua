-- ARGV: p, subscriber, what ("dead" after limit | "attempts"). Read only.
local p, s = ARGV[1], ARGV[2]
if ARGV[3] == 'dead' then
  local ids = redis.call('ZRANGE', k(p, 'deadorder', s), '(' .. ARGV[4], '+', 'BYLEX',
    'LIMIT', 0, tonumber(ARGV[5]))
  if #ids == 0 then return {} end
  local values = redis.call('HMGET', k(p, 'dead', s), unpack(ids))
  local out = {}
  for i = 1, #ids do
    out[#out + 1] = ids[i]
    out[#out + 1] = values[i]
  end
  return out
end
local keys = redis.call('ZREVRANGE', k(p, 'attorder', s), 0, -1)
if #keys == 0 then return {} end
return redis.call('HMGET', k(p, 'att', s), unpack(keys))
