-- Create a record unless its id exists. Stored value: "<creation seq>:<version>:<json>".
-- KEYS: records hash of the kind, changes hash. ARGV: kind, id, record json.
-- Returns {stored value, 1 if created by this call else 0}.
local current = redis.call('HGET', KEYS[1], ARGV[2])
if current then return {current, 0} end
local seq = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
local value = seq .. ':1:' .. ARGV[3]
redis.call('HSET', KEYS[1], ARGV[2], value)
return {value, 1}
