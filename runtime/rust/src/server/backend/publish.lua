-- Publishes one room message atomically (RedisBackend::publish, docs/SCALE.md);
-- loaded after room.lua.
-- KEYS[1..2], ARGV[1..5]: the room (room_of in room.lua)   ARGV[6] payload
-- Returns {epoch, seq}.
local epoch, seq = publish_room(room_of(KEYS, ARGV), ARGV[6])
return {epoch, seq}
