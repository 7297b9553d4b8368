-- KEYS: change feed. ARGV: key prefix, session id, hub ids...
local changed = {}
for i = 3, #ARGV do
  if remove_session(ARGV[1], ARGV[i], ARGV[2]) then changed[#changed + 1] = ARGV[i] end
end
return announce(changed)
