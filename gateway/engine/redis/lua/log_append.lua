-- Append a batch of events with their dedup keys: stored together or not at all.
-- KEYS: events stream, log meta hash, dedup index (bucket name -> expiry ms)
-- ARGV: MAX_SEQ, the id format (both from gateway/engine/ids.py, the one owner of the id
--       format), dedup ttl ms, bucket width ms, bucket name prefix, "1" when the caller
--       WAITs for replicas next, then per event: dedup digest, hub, conversation ("" none,
--       "=" .. id), type, body
-- Returns the stream id of each event ("" for a duplicate). A caller about to WAIT needs a
-- write even when every event is a duplicate: the WAIT then covers the first copy too
-- (replication is in order), which an earlier request stored and may not have seen reach
-- a replica.
local MAX_SEQ, ID_FORMAT = tonumber(ARGV[1]), ARGV[2]
local ttl, width, bucket_prefix = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local waits = ARGV[6] == '1'
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. string.format('%.0f', now), '+inf')

local function seen(digest)
  for i = 1, #live do
    if redis.call('HEXISTS', live[i], digest) == 1 then return true end
  end
  return false
end

local meta = redis.call('HMGET', KEYS[2], 'last_ms', 'last_seq', 'appended', 'floor')
local ms, seq = tonumber(meta[1]) or 0, tonumber(meta[2]) or 0
local appended = tonumber(meta[3]) or 0
if not meta[4] then
  -- A log without a floor lost its data (a Redis restarted without persistence, a flush):
  -- nothing before now can be resumed from.
  redis.call('HSET', KEYS[2], 'floor', string.format(ID_FORMAT, now - 1, MAX_SEQ))
end
local index = math.floor(now / width)
local bucket = bucket_prefix .. string.format('%.0f:%.0f', width, index)
local here, ids, stored = {}, {}, 0

for i = 7, #ARGV, 5 do
  local digest = ARGV[i]
  if here[digest] or seen(digest) then
    ids[#ids + 1] = ''
  else
    here[digest] = true
    if now > ms then
      ms, seq = now, 0
    elseif seq < MAX_SEQ then
      seq = seq + 1
    else
      ms, seq = ms + 1, 0
    end
    local stream_id = string.format('%.0f-%d', ms, seq)
    local payload = '{"id":"' .. string.format(ID_FORMAT, ms, seq) .. '",'
      .. string.sub(ARGV[i + 4], 2)
    appended = appended + #payload
    redis.call('XADD', KEYS[1], stream_id, 'h', ARGV[i + 1], 'c', ARGV[i + 2],
      't', ARGV[i + 3], 'p', payload, 'o', string.format('%.0f', appended))
    redis.call('HSET', bucket, digest, '')
    ids[#ids + 1] = stream_id
    stored = stored + 1
  end
end

if stored > 0 then
  redis.call('HSET', KEYS[2], 'last_ms', string.format('%.0f', ms), 'last_seq', seq,
    'appended', string.format('%.0f', appended))
  local expiry = string.format('%.0f', (index + 1) * width + ttl)
  redis.call('PEXPIREAT', bucket, expiry, 'NX')
  redis.call('PEXPIREAT', bucket, expiry, 'GT')
  redis.call('ZADD', KEYS[3], 'GT', expiry, bucket)
elseif waits then
  redis.call('HINCRBY', KEYS[2], 'waited_duplicates', 1)
end
return ids
