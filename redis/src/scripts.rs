//! The Lua scripts that make each store operation atomic at the server.

use redis::Script;

/// Compare-and-store: stores the snapshot as the next revision if the session still is
/// at the expected one (`""`: none stored), announces it, and returns `{1, revision}`;
/// otherwise returns `{0, revision, generation, snapshot}` of what is stored. A session
/// emptied behind the saver's back continues the saver's count.
///
/// KEYS[1] session hash. ARGV: expected revision, generation, snapshot, channel.
pub(crate) fn compare_and_store() -> Script {
    Script::new(
        r"
local current = redis.call('HGET', KEYS[1], 'revision')
if current and current ~= ARGV[1] then
  local held = redis.call('HMGET', KEYS[1], 'revision', 'generation', 'snapshot')
  return {0, held[1], held[2], held[3]}
end
local revision = (tonumber(current or ARGV[1]) or 0) + 1
redis.call('HSET', KEYS[1], 'revision', revision, 'generation', ARGV[2], 'snapshot', ARGV[3])
redis.call('PUBLISH', ARGV[4], revision)
return {1, revision}
",
    )
}

/// Takes the lease for ARGV[1] for ARGV[2] milliseconds, or extends it if ARGV[1] holds
/// it: `{1, ttl}`. Held by another: `{0, its remaining milliseconds}`.
///
/// KEYS[1] lease.
pub(crate) fn take_lease() -> Script {
    Script::new(
        r"
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, tonumber(ARGV[2])}
end
return {0, redis.call('PTTL', KEYS[1])}
",
    )
}

/// Compare-and-delete: gives the lease up if ARGV[1] holds it.
///
/// KEYS[1] lease.
pub(crate) fn release_lease() -> Script {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
}
