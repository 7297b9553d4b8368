-- Presence helpers. Per hub: `<p>hub:<hub>:agents` (agent id -> agent json) and
-- `<p>hub:<hub>:sessions` (session id -> {a = agent id, i = instance id}); per instance:
-- `<p>instance:<id>` (set of [hub, session] json), so that reaping finds its sessions, and
-- `<p>holders` (the instances holding sessions: one that never beat is reaped too).
-- Every changed hub is appended to the change feed (KEYS[1]), which keeps the latest
-- FEED_LENGTH (`ROSTER_FEED_LENGTH` of `engine/presence.py`).
local FEED_LENGTH = 1000

local function agents_key(prefix, hub) return prefix .. 'hub:' .. hub .. ':agents' end
local function sessions_key(prefix, hub) return prefix .. 'hub:' .. hub .. ':sessions' end
local function instance_key(prefix, instance) return prefix .. 'instance:' .. instance end

local function get_agent(prefix, hub, agent_id)
  local raw = redis.call('HGET', agents_key(prefix, hub), agent_id)
  if raw then return cjson.decode(raw) end
  return nil
end

local function put_agent(prefix, hub, agent)
  redis.call('HSET', agents_key(prefix, hub), agent.agentId, cjson.encode(agent))
end

-- Entries past the length are deleted one by one (XDEL, not a trim), so that the stream's
-- `max-deleted-entry-id` tells a reader exactly whether it missed one.
local function announce(changed)
  for _, hub in ipairs(changed) do
    redis.call('XADD', KEYS[1], '*', 'h', hub)
    if redis.call('XLEN', KEYS[1]) > FEED_LENGTH then
      redis.call('XDEL', KEYS[1], redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1][1])
    end
  end
  return changed
end

-- Remove one session from one hub; true when the hub's roster changed.
local function remove_session(prefix, hub, session_id)
  local raw = redis.call('HGET', sessions_key(prefix, hub), session_id)
  if not raw then return false end
  local session = cjson.decode(raw)
  redis.call('HDEL', sessions_key(prefix, hub), session_id)
  redis.call('SREM', instance_key(prefix, session.i), cjson.encode({hub, session_id}))
  local agent = get_agent(prefix, hub, session.a)
  if not agent then return false end
  if agent.sessions > 1 then
    agent.sessions = agent.sessions - 1
    put_agent(prefix, hub, agent)
    return false
  end
  redis.call('HDEL', agents_key(prefix, hub), session.a)
  return true
end
