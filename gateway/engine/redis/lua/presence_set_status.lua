-- KEYS: change feed. ARGV: key prefix, agent id, status, now ms, hub ids...
local prefix, agent_id, status, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local changed = {}
for i = 5, #ARGV do
  local agent = get_agent(prefix, ARGV[i], agent_id)
  if agent and agent.status ~= status then
    agent.status, agent.sinceMs = status, now
    put_agent(prefix, ARGV[i], agent)
    changed[#changed + 1] = ARGV[i]
  end
end
return announce(changed)
