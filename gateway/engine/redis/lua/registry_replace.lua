-- Compare-and-set: write the record only if it is still at the expected version.
-- KEYS: records hash of the kind, changes hash. ARGV: kind, id, record json, expected version.
-- Returns the new version, or 0 on conflict (another version, or the record gone).
local current = redis.call('HGET', KEYS[1], ARGV[2])
if not current then return 0 end
local seq, version = string.match(current, '^(%d+):(%d+):')
if version ~= ARGV[4] then return 0 end
local next_version = tonumber(version) + 1
redis.call('HSET', KEYS[1], ARGV[2], seq .. ':' .. next_version .. ':' .. ARGV[3])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return next_version
