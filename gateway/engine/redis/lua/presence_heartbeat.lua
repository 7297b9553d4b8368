-- KEYS: change feed (unused), instances zset (instance -> alive until, ms).
-- ARGV: instance id, now ms, ttl ms. Returns 1 when the instance was not alive before.
local until_ms = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
if until_ms > tonumber(ARGV[2]) then return 0 end
return 1
