-- A room's position and the messages after a sequence number still in the
-- window, read atomically (RedisBackend::history and subscribe, docs/SCALE.md);
-- the state of a room that went back in time is dropped (ARGV[4]).
-- KEYS[1] room meta (hash: epoch, seq)   KEYS[2] room log (stream, IDs <seq>-0)
-- ARGV[1] after this sequence number (-1: only the position)
-- ARGV[2] of this epoch ('0': whatever the room's)   ARGV[3] max age in ms (0: no limit)
-- ARGV[4] '1' when ARGV[1..2] is a position this Redis gave the calling node (not a
-- client's claim): a room of that epoch now behind it lost writes (restored from an
-- older snapshot, or a replica that missed them), and its next publishes would give
-- the lost sequence numbers to other messages. Its state is dropped, so that the next
-- publish starts a new epoch, and {'rollback', seq it was at} is returned.
-- Returns {} for a room without state, else {epoch, seq, oldest, payloads...}:
-- oldest is the sequence number of the oldest message after ARGV[1] held in the
-- window (-1: none), and the payloads, in order from it, come only when
-- oldest is ARGV[1] + 1 (the window reaches back; otherwise it is a gap).
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
if not meta[1] then
  return {}
end
if ARGV[4] == '1' and meta[1] == ARGV[2] and tonumber(meta[2]) < tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {'rollback', tonumber(meta[2])}
end
local result = {meta[1], tonumber(meta[2]), -1}
local after = tonumber(ARGV[1])
if after < 0 or (ARGV[2] ~= '0' and ARGV[2] ~= meta[1]) then
  return result
end
local cutoff = nil
local max_age = tonumber(ARGV[3])
if max_age > 0 then
  local time = redis.call('TIME')
  cutoff = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) - max_age
end
-- Sequence numbers and times grow together, so the oldest young message after
-- ARGV[1] is the oldest young one held at all when ARGV[1] + 1 is gone.
local entries = redis.call('XRANGE', KEYS[2], string.format('%d-0', after + 1), '+')
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local t, payload = nil, nil
  for i = 1, #fields, 2 do
    if fields[i] == 't' then t = tonumber(fields[i + 1]) end
    if fields[i] == 'p' then payload = fields[i + 1] end
  end
  if payload and (result[3] >= 0 or not cutoff or (t and t >= cutoff)) then
    if result[3] < 0 then
      result[3] = tonumber(string.match(entry[1], '^(%d+)-'))
      if result[3] ~= after + 1 then
        return result
      end
    end
    table.insert(result, payload)
  end
end
return result
