-- ARGV: p, now, then subscriber, delivery id, claim token triples. Claimed deliveries
-- visible at once, each only while that claim is its latest.
local p, now = ARGV[1], ARGV[2]
local touched = {}
for i = 3, #ARGV, 3 do
  local s, id = ARGV[i], ARGV[i + 1]
  if redis.call('HEXISTS', k(p, 'rec', s), id) == 1 and holds_claim(p, s, id, ARGV[i + 2])
    and redis.call('ZREM', k(p, 'leases', s), id) == 1 then
    redis.call('HDEL', k(p, 'claims', s), id)
    redis.call('ZADD', k(p, 'due', s), now, id)
    touched[s] = true
  end
end
for s in pairs(touched) do refresh(p, s) end
return 0
