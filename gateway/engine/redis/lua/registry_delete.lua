-- Delete a record. KEYS: records hash of the kind, changes hash. ARGV: kind, id.
local deleted = redis.call('HDEL', KEYS[1], ARGV[2])
if deleted == 1 then redis.call('HINCRBY', KEYS[2], ARGV[1], 1) end
return deleted
