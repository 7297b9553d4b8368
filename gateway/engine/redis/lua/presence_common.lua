-- Presence helpers. Per hub: `<p><hub>:agents` (agent id -> agent json) and
-- `<p><hub>:sessions` (session id -> {a = agent id, i = instance id}); per instance:
-- `<p>instance:<id>` (set of [hub, session] json), so that reaping finds its sessions.
-- Every changed hub is appended to the change feed (KEYS[1]).
local FEED_LENGTH = 10000

local function agents_key(prefix, hub) return prefix .. hub .. ':agents' end
local function sessions_key(prefix, hub) return prefix .. hub .. ':sessions' end
local function instance_key(prefix, instance) return prefix .. 'instance:' .. instance end

local function get_agent(prefix, hub, agent_id)
  local raw = redis.call('HGET', agents_key(prefix, hub), agent_id)
  if raw then return cjson.decode(raw) end
  return nil
end

local function put_agent(prefix, hub, agent)
  redis.call('HSET', agents_key(prefix, hub), agent.agentId, cjson.encode(agent))
end

local function announce(changed)
  for _, hub in ipairs(changed) do
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', FEED_LENGTH, '*', 'h', hub)
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
