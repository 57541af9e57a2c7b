-- Shared by the room scripts: RedisBackend puts it before publish.lua and
-- presence.lua when it loads them, so that a presence event takes its place in
-- the room's order exactly as a published message does (docs/SCALE.md).

-- Redis time in ms, and TIME's reply.
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000), time
end

-- Publishes one room message: HINCRBY the room's seq, XADD it to the room's
-- stream with an exact MAXLEN, trim what left the time window, PEXPIRE both
-- keys, PUBLISH (or SPUBLISH on a cluster) "<epoch>:<seq>:<payload>".
-- room: {meta, log, channel, publish command, max messages, max age ms (0: no
-- limit), keys' time to live ms}. Returns epoch, seq.
local function publish_room(room, payload)
  local meta, log = room.meta, room.log
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  local epoch = redis.call('HGET', meta, 'epoch')
  local now, time = now_ms()
  if seq == 1 or not epoch then
    -- A new epoch: the room is new, or its keys expired or were lost. A log
    -- left from an older epoch would refuse the IDs from 1 again.
    epoch = time[1] .. string.format('%06d', tonumber(time[2]))
    redis.call('HSET', meta, 'epoch', epoch, 'seq', 1)
    seq = 1
    redis.call('DEL', log)
  end
  local max_messages = room.max_messages
  if max_messages > 0 then
    redis.call('XADD', log, 'MAXLEN', max_messages, string.format('%d-0', seq), 't', now, 'p', payload)
    local max_age = room.max_age
    if max_age > 0 then
      -- Trim what left the time window from the head, a bounded amount per publish
      -- (reads skip what is older anyway; MAXLEN bounds the memory).
      local head = redis.call('XRANGE', log, '-', '+', 'COUNT', 64)
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
        redis.call('XTRIM', log, 'MINID', keep_from)
      end
    end
  else
    redis.call('DEL', log)
  end
  redis.call('PEXPIRE', meta, room.ttl)
  if max_messages > 0 then
    redis.call('PEXPIRE', log, room.ttl)
  end
  redis.call(room.publish, room.channel, epoch .. ':' .. string.format('%d', seq) .. ':' .. payload)
  return epoch, seq
end

-- The room's keys and settings: KEYS[1] meta (hash: epoch, seq), KEYS[2] log
-- (stream, IDs <seq>-0); ARGV[1] channel, ARGV[2] PUBLISH or SPUBLISH,
-- ARGV[3] max messages kept, ARGV[4] max age in ms, ARGV[5] keys' time to live in ms.
local function room_of(keys, argv)
  return {
    meta = keys[1], log = keys[2], channel = argv[1], publish = argv[2],
    max_messages = tonumber(argv[3]), max_age = tonumber(argv[4]), ttl = tonumber(argv[5]),
  }
end
