-- A lease one process at a time holds (`<p>:lease:<name>`, its value the holder): taken
-- when no one holds it (SET NX PX), extended by its holder, and otherwise left alone; it
-- lapses by itself when the holder stops renewing (a process killed), so another takes it.
-- KEYS: the lease (`<p>:lease:<name>`, in the queue's slot)
-- ARGV: holder, "hold" | "release", lease ms
-- Returns 1 when the holder holds the lease after a "hold", else 0.
local key = KEYS[1]
local holder = ARGV[1]
local current = redis.call('GET', key)
if ARGV[2] == 'release' then
  if current == holder then redis.call('DEL', key) end
  return 0
end
if current and current ~= holder then return 0 end
redis.call('SET', key, holder, 'PX', ARGV[3])
return 1
