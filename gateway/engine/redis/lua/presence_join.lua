-- KEYS: change feed. ARGV: key prefix, session id, instance id, agent id, name json,
-- status, now ms, hub ids... Returns the hubs whose roster changed.
local prefix, session_id, instance, agent_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local name, status, now = cjson.decode(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local changed = {}
for i = 8, #ARGV do
  local hub = ARGV[i]
  local agent = get_agent(prefix, hub, agent_id)
  local present = redis.call('HEXISTS', sessions_key(prefix, hub), session_id) == 1
  if not present then
    redis.call('HSET', sessions_key(prefix, hub), session_id,
      cjson.encode({a = agent_id, i = instance}))
    redis.call('SADD', instance_key(prefix, instance), cjson.encode({hub, session_id}))
    redis.call('SADD', prefix .. 'holders', instance)
    if not agent then
      put_agent(prefix, hub,
        {agentId = agent_id, name = name, status = status, sinceMs = now, sessions = 1})
      changed[#changed + 1] = hub
    else
      local renamed = agent.name ~= name
      if agent.status ~= status then agent.sinceMs = now end
      local moved = renamed or agent.status ~= status
      agent.name, agent.status, agent.sessions = name, status, agent.sessions + 1
      put_agent(prefix, hub, agent)
      if moved then changed[#changed + 1] = hub end
    end
  end
end
return announce(changed)
