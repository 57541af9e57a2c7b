-- A room's presence, atomically with its order (RedisBackend's presence_*,
-- docs/SCALE.md); loaded after room.lua. Every event is published as a room
-- message (publish_room), so it has a position like any other.
-- KEYS[1..2], ARGV[1..5]: the room (room_of in room.lua)
-- KEYS[3] presence (hash: member -> "<node>:<conn>:<linger deadline ms, 0: held>:<state>")
-- KEYS[4] node leases (hash: node -> deadline ms)
-- ARGV[6] operation: set | linger | leave | snapshot | tick
-- ARGV[7] this node   ARGV[8] lease ms   ARGV[9] linger ms   ARGV[10] max members
-- ARGV[11] member (tick: '1' when this node holds members here)   ARGV[12] conn
-- ARGV[13] state
local room = room_of(KEYS, ARGV)
local members, leases = KEYS[3], KEYS[4]
local op, node = ARGV[6], ARGV[7]
local now = now_ms()

local function event(kind, member, state)
  return string.char(1) .. kind .. member .. string.char(0) .. (state or '')
end

local function keep(ttl)
  redis.call('PEXPIRE', members, ttl)
  redis.call('PEXPIRE', leases, ttl)
end

-- Removes the members whose linger ran out, and those held by a node whose
-- lease ran out, each with a leave event; forgets the run-out leases. Two
-- nodes sweeping at once run one after the other: the second finds nothing.
local function sweep()
  local alive = {}
  local held = redis.call('HGETALL', leases)
  for i = 1, #held, 2 do
    if tonumber(held[i + 1]) >= now then
      alive[held[i]] = true
    else
      redis.call('HDEL', leases, held[i])
    end
  end
  local removed = 0
  local entries = redis.call('HGETALL', members)
  for i = 1, #entries, 2 do
    local owner, deadline = string.match(entries[i + 1], '^([^:]*):%d+:(%d+):')
    deadline = tonumber(deadline)
    if not owner or (deadline > 0 and deadline < now) or (deadline == 0 and not alive[owner]) then
      redis.call('HDEL', members, entries[i])
      publish_room(room, event('l', entries[i]))
      removed = removed + 1
    end
  end
  return removed
end

local function owned(member)
  local current = redis.call('HGET', members, member)
  local prefix = node .. ':' .. ARGV[12] .. ':'
  if current and string.sub(current, 1, #prefix) == prefix then
    return current
  end
  return nil
end

if op == 'set' then
  local member, state = ARGV[11], ARGV[13]
  redis.call('HSET', leases, node, now + tonumber(ARGV[8]))
  local current = redis.call('HGET', members, member)
  local kind = nil
  if not current then
    local max_members = tonumber(ARGV[10])
    if redis.call('HLEN', members) >= max_members then
      sweep()
      if redis.call('HLEN', members) >= max_members then
        keep(room.ttl)
        return {'full'}
      end
    end
    kind = 'j'
  else
    local _, _, before = string.find(current, '^[^:]*:%d+:%d+:(.*)$')
    if before ~= state then
      kind = 'u'
    end
  end
  redis.call('HSET', members, member, node .. ':' .. ARGV[12] .. ':0:' .. state)
  keep(room.ttl)
  if kind then
    local epoch, seq = publish_room(room, event(kind, member, state))
    return {epoch, seq}
  end
  return {}
elseif op == 'linger' then
  local current = owned(ARGV[11])
  if current then
    local _, _, state = string.find(current, '^[^:]*:%d+:%d+:(.*)$')
    redis.call('HSET', members, ARGV[11], node .. ':' .. ARGV[12] .. ':' ..
      string.format('%d', now + tonumber(ARGV[9])) .. ':' .. state)
    return 1
  end
  return 0
elseif op == 'leave' then
  if owned(ARGV[11]) then
    redis.call('HDEL', members, ARGV[11])
    local epoch, seq = publish_room(room, event('l', ARGV[11]))
    return {epoch, seq}
  end
  return {}
elseif op == 'snapshot' then
  sweep()
  local meta = redis.call('HMGET', room.meta, 'epoch', 'seq')
  local result = {meta[1] or '0', tonumber(meta[2] or '0')}
  local entries = redis.call('HGETALL', members)
  for i = 1, #entries, 2 do
    local _, _, state = string.find(entries[i + 1], '^[^:]*:%d+:%d+:(.*)$')
    table.insert(result, entries[i])
    table.insert(result, state or '')
  end
  return result
elseif op == 'tick' then
  if ARGV[11] == '1' then
    redis.call('HSET', leases, node, now + tonumber(ARGV[8]))
    -- The room's keys live as long as its members are held.
    keep(room.ttl)
    redis.call('PEXPIRE', room.meta, room.ttl)
    redis.call('PEXPIRE', room.log, room.ttl)
  end
  return sweep()
end
return redis.error_reply('unknown presence operation ' .. tostring(op))
