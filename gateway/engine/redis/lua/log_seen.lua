-- Which dedup digests are live in some bucket of the dedup window (read only).
-- KEYS: dedup index. ARGV: digests. Returns 1 or 0 per digest.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%.0f', now), '+inf')
local found = {}
for i = 1, #ARGV do
  found[i] = 0
  for j = 1, #live do
    if redis.call('HEXISTS', holder(live[j], ARGV[i]), ARGV[i]) == 1 then
      found[i] = 1
      break
    end
  end
end
return found
