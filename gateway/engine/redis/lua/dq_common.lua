-- Delivery queue helpers. Every key is `<p>...` with `p` = `{prefix:dq}` (one slot):
--   <p>:stats             hash: depth, queued, dead (bytes), overflowed, dead_dropped, seq
--   <p>:subs              zset: unparked subscriber -> earliest score in its `due`
--   <p>:parked            set of parked subscribers
--   <p>:cursors           hash: cursor name -> position
--   <p>:lease:<name>      string: the process holding that lease (dq_lease.lua)
--   <p>:sub:<s>           hash: queued, dead (bytes), depth, failing, tokens, at
--   <p>:rec:<s>           hash: delivery id -> header json .. "\n" .. payload
--                         (header: a attempts, e event id, l lane or null, d due at, n bytes)
--   <p>:due:<s>           zset: visible delivery id -> visible at (due, or lease expiry)
--   <p>:order:<s>         zset: delivery id -> enqueue seq (oldest first for the byte cap)
--   <p>:leases:<s>        zset: claimed delivery id -> lease expiry (in flight)
--   <p>:claims:<s>        hash: claimed delivery id -> token of its latest claim (kept
--                         past the lease's end, until claimed again, retried or forgotten)
--   <p>:lanes:<s>         hash: lane -> its active delivery id
--   <p>:lane:<s>:<lane>   zset (score 0): "<event id> <delivery id>" waiting behind it
--   <p>:dead:<s>          hash: event id -> record json .. "\n" .. payload
--   <p>:deadorder:<s>     zset (score 0): event ids, by id
--   <p>:att:<s>           hash: attempt key -> record json
--   <p>:attorder:<s>      zset: attempt key -> insertion seq
local function k(p, name, s) return p .. ':' .. name .. ':' .. s end
local function num(value) return string.format('%.17g', value) end

-- Whether `token` is the delivery's latest claim ('' when never claimed, or released).
local function holds_claim(p, s, id, token)
  return (redis.call('HGET', k(p, 'claims', s), id) or '') == token
end

local function header_of(value)
  local nl = string.find(value, '\n', 1, true)
  return cjson.decode(string.sub(value, 1, nl - 1)), nl
end

-- Keep the subscriber's place in the due index in step with its earliest visible time.
local function refresh(p, s)
  if redis.call('SISMEMBER', p .. ':parked', s) == 1 then
    redis.call('ZREM', p .. ':subs', s)
    return
  end
  local first = redis.call('ZRANGE', k(p, 'due', s), 0, 0, 'WITHSCORES')
  if first[1] then
    redis.call('ZADD', p .. ':subs', first[2], s)
  else
    redis.call('ZREM', p .. ':subs', s)
  end
end

-- Counters move by whole numbers; "%d" also turns a Lua -0 into "0" (HINCRBY refuses "-0").
local function int(n) return string.format('%d', n) end

local function add_bytes(p, s, field, n)
  redis.call('HINCRBY', k(p, 'sub', s), field, int(n))
  redis.call('HINCRBY', p .. ':stats', field, int(n))
end

-- Write an attempt record: in place when its key exists (unless only_new), else newest,
-- dropping the oldest past the cap.
local function log_attempt(p, s, key, record, only_new, cap)
  if redis.call('HEXISTS', k(p, 'att', s), key) == 1 then
    if not only_new then redis.call('HSET', k(p, 'att', s), key, record) end
    return
  end
  local seq = redis.call('HINCRBY', p .. ':stats', 'seq', 1)
  redis.call('HSET', k(p, 'att', s), key, record)
  redis.call('ZADD', k(p, 'attorder', s), seq, key)
  local extra = redis.call('ZCARD', k(p, 'attorder', s)) - cap
  if extra > 0 then
    local popped = redis.call('ZPOPMIN', k(p, 'attorder', s), extra)
    for i = 1, #popped, 2 do redis.call('HDEL', k(p, 'att', s), popped[i]) end
  end
end

local function drop_dead_letter(p, s, event_id)
  local value = redis.call('HGET', k(p, 'dead', s), event_id)
  if not value then return false end
  local nl = string.find(value, '\n', 1, true)
  add_bytes(p, s, 'dead', -(#value - nl))
  redis.call('HDEL', k(p, 'dead', s), event_id)
  redis.call('ZREM', k(p, 'deadorder', s), event_id)
  return true
end

-- Keep a dead letter (replacing the event's older one), then apply both dead-letter caps,
-- oldest event first.
local function keep_dead_letter(p, s, event_id, record, payload, max_letters, max_bytes)
  drop_dead_letter(p, s, event_id)
  redis.call('HSET', k(p, 'dead', s), event_id, record .. '\n' .. payload)
  redis.call('ZADD', k(p, 'deadorder', s), 0, event_id)
  add_bytes(p, s, 'dead', #payload)
  while redis.call('ZCARD', k(p, 'deadorder', s)) > max_letters
    or tonumber(redis.call('HGET', k(p, 'sub', s), 'dead') or '0') > max_bytes do
    local oldest = redis.call('ZRANGE', k(p, 'deadorder', s), 0, 0)[1]
    drop_dead_letter(p, s, oldest)
    redis.call('HINCRBY', p .. ':stats', 'dead_dropped', 1)
  end
end

-- Forget a held delivery; the next of its lane becomes visible at its own due time.
-- Returns the stored value (nil when it was not held).
local function forget(p, s, id)
  local value = redis.call('HGET', k(p, 'rec', s), id)
  if not value then return nil end
  local header = header_of(value)
  redis.call('HDEL', k(p, 'rec', s), id)
  redis.call('ZREM', k(p, 'due', s), id)
  redis.call('ZREM', k(p, 'order', s), id)
  redis.call('ZREM', k(p, 'leases', s), id)
  redis.call('HDEL', k(p, 'claims', s), id)
  add_bytes(p, s, 'queued', -header.n)
  redis.call('HINCRBY', k(p, 'sub', s), 'depth', -1)
  redis.call('HINCRBY', p .. ':stats', 'depth', -1)
  if header.l == cjson.null then return value end
  local lane = k(p, 'lane', s) .. ':' .. header.l
  if redis.call('HGET', k(p, 'lanes', s), header.l) == id then
    local next_member = redis.call('ZPOPMIN', lane)[1]
    if next_member then
      local next_id = string.sub(next_member, string.find(next_member, ' ', 1, true) + 1)
      local next_header = header_of(redis.call('HGET', k(p, 'rec', s), next_id))
      redis.call('HSET', k(p, 'lanes', s), header.l, next_id)
      redis.call('ZADD', k(p, 'due', s), next_header.d, next_id)
    else
      redis.call('HDEL', k(p, 'lanes', s), header.l)
    end
  else
    redis.call('ZREM', lane, header.e .. ' ' .. id)
  end
  return value
end
