-- Publishes one room message atomically (RedisBackend::publish, docs/SCALE.md).
-- KEYS[1] room meta (hash: epoch, seq)   KEYS[2] room log (stream, IDs <seq>-0)
-- ARGV[1] pub/sub channel   ARGV[2] payload   ARGV[3] max messages kept
-- ARGV[4] max age in ms (0: no limit)   ARGV[5] keys' time to live in ms
-- Returns {epoch, seq}. The channel gets "<epoch>:<seq>:<payload>".
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if seq == 1 or not epoch then
  -- A new epoch: the room is new, or its keys expired or were lost. A log
  -- left from an older epoch would refuse the IDs from 1 again.
  epoch = time[1] .. string.format('%06d', tonumber(time[2]))
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 1)
  seq = 1
  redis.call('DEL', KEYS[2])
end
local max_messages = tonumber(ARGV[3])
if max_messages > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', max_messages, string.format('%d-0', seq), 't', now, 'p', ARGV[2])
  local max_age = tonumber(ARGV[4])
  if max_age > 0 then
    -- Trim what left the time window from the head, a bounded amount per publish
    -- (reads skip what is older anyway; MAXLEN bounds the memory).
    local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 64)
    local keep_from = nil
    for _, entry in ipairs(head) do
      local fields = entry[2]
      for i = 1, #fields, 2 do
        if fields[i] == 't' and tonumber(fields[i + 1]) >= now - max_age then
          keep_from = entry[1]
        end
      end
      if keep_from then break end
    end
    if not keep_from and #head > 0 then
      local last_old = tonumber(string.match(head[#head][1], '^(%d+)-'))
      keep_from = string.format('%d-0', last_old + 1)
    end
    if keep_from then
      redis.call('XTRIM', KEYS[2], 'MINID', keep_from)
    end
  end
else
  redis.call('DEL', KEYS[2])
end
local ttl = tonumber(ARGV[5])
redis.call('PEXPIRE', KEYS[1], ttl)
if max_messages > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('PUBLISH', ARGV[1], epoch .. ':' .. string.format('%d', seq) .. ':' .. ARGV[2])
return {epoch, seq}
