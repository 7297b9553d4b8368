-- Take one token from a bucket. KEYS: the bucket hash. ARGV: rate per second, burst, now.
-- Returns "0" when a token was taken, else the seconds until one will be (as text: a Lua
-- number would come back as a truncated integer). A bucket expires when it would be full.
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
if rate > 0 then tokens = math.min(burst, tokens + math.max(0, now - at) * rate) end
if tokens < 1 then
  if rate <= 0 then return 'inf' end
  return string.format('%.17g', (1 - tokens) / rate)
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'at', string.format('%.17g', math.max(at, now)))
if rate > 0 then
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1)
else
  redis.call('PEXPIRE', KEYS[1], 86400000)
end
return '0'
