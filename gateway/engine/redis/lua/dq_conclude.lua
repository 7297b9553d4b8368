-- ARGV: p, subscriber, delivery id, outcome (finish|retry|dead), due at, record key,
--   record json, failed at ('' clears), attempts, max dead letters, max dead bytes,
--   attempt log size, claim token.
-- Returns {applied 1|0, failing since ('' none)}: 0 when the delivery is not held, or
-- was claimed again since the claim whose token this is.
local p, s, id, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local value = redis.call('HGET', k(p, 'rec', s), id)
if not value or not holds_claim(p, s, id, ARGV[13]) then return {0, ''} end
local header, nl = header_of(value)
if outcome == 'retry' then
  header.a = tonumber(ARGV[9])
  redis.call('HSET', k(p, 'rec', s), id, cjson.encode(header) .. string.sub(value, nl))
  redis.call('ZADD', k(p, 'due', s), ARGV[5], id)
  redis.call('ZREM', k(p, 'leases', s), id)
  redis.call('HDEL', k(p, 'claims', s), id)
else
  forget(p, s, id)
  if outcome == 'dead' then
    keep_dead_letter(p, s, header.e, ARGV[7], string.sub(value, nl + 1),
      tonumber(ARGV[10]), tonumber(ARGV[11]))
  else
    drop_dead_letter(p, s, header.e)
  end
end
log_attempt(p, s, ARGV[6], ARGV[7], false, tonumber(ARGV[12]))
local failing = ''
if ARGV[8] ~= '' then
  redis.call('HSETNX', k(p, 'sub', s), 'failing', ARGV[8])
  failing = redis.call('HGET', k(p, 'sub', s), 'failing')
else
  redis.call('HDEL', k(p, 'sub', s), 'failing')
end
refresh(p, s)
return {1, failing}
