-- ARGV: p, max dead letters, max dead bytes, attempt log size, then per conclusion
--   these 9: subscriber, delivery id, outcome (finish|retry|dead),
--   due at, record key, record json, failed at ('' clears), attempts, claim token.
-- Each conclusion is applied in turn, exactly as it would be alone. Returns per conclusion
-- {applied 1|0, failing since ('' none)}: 0 when the delivery is not held, or was claimed
-- again since the claim whose token this is.
local p = ARGV[1]
local max_letters, max_bytes, log_size = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local function conclude(s, id, outcome, due_at, record_key, record, failed_at, attempts, token)
  local value = redis.call('HGET', k(p, 'rec', s), id)
  if not value or not holds_claim(p, s, id, token) then return 0, '' end
  local header, nl = header_of(value)
  if outcome == 'retry' then
    header.a = tonumber(attempts)
    redis.call('HSET', k(p, 'rec', s), id, cjson.encode(header) .. string.sub(value, nl))
    redis.call('ZADD', k(p, 'due', s), due_at, id)
    redis.call('ZREM', k(p, 'leases', s), id)
    redis.call('HDEL', k(p, 'claims', s), id)
  else
    forget(p, s, id)
    if outcome == 'dead' then
      keep_dead_letter(p, s, header.e, record, string.sub(value, nl + 1), max_letters, max_bytes)
    else
      drop_dead_letter(p, s, header.e)
    end
  end
  log_attempt(p, s, record_key, record, false, log_size)
  local failing = ''
  if failed_at ~= '' then
    redis.call('HSETNX', k(p, 'sub', s), 'failing', failed_at)
    failing = redis.call('HGET', k(p, 'sub', s), 'failing')
  else
    redis.call('HDEL', k(p, 'sub', s), 'failing')
  end
  refresh(p, s)
  return 1, failing
end

local results = {}
for i = 5, #ARGV, 9 do
  local applied, failing = conclude(unpack(ARGV, i, i + 8))
  results[#results + 1] = applied
  results[#results + 1] = failing
end
return results
