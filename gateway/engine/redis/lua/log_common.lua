-- Dedup bucket helpers. A bucket (a member of the dedup index, `<prefix><width>:<n>:s`)
-- is 256 hashes, one per first byte of the digest, each expiring whole: no hash grows past
-- about 1/256 of a bucket, so freeing one when it expires never stalls Redis (a single
-- hash of millions of fields takes a synchronous DEL of half a second and more). A member
-- without the `:s` is a one-hash bucket of an earlier layout, looked in until it expires.
local function holder(bucket, digest)
  if string.sub(bucket, -2) ~= ':s' then return bucket end
  return bucket .. string.format(':%02x', string.byte(digest, 1))
end
