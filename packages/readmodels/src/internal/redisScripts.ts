/**
 * The Lua scripts of the Redis read-model store, and the typed commands
 * ioredis defines for them (`defineCommand`: EVALSHA, loading the script on
 * first use per connection and again after a NOSCRIPT).
 *
 * Every script that writes makes all its checks before its first write, and
 * the adapter validates every argument before sending one: Redis does not roll
 * a script back when it fails halfway, so a failure must come before anything
 * was written. `commit` moves the checkpoint last, so even a halfway failure
 * inside Redis (out of memory) leaves the checkpoint behind and the batch,
 * whose writes are all idempotent, is applied again by the retry.
 *
 * A document is stored as `<version>|<json>`; the guards read only the head
 * of the value (GETRANGE), never the JSON.
 */
import type { Redis } from "ioredis"

/** The stored version of the document at `key`, or nil when there is none. */
const storedVersion = `
local function storedVersion(key)
  local head = redis.call("GETRANGE", key, 0, 31)
  local bar = string.find(head, "|", 1, true)
  if bar == nil then return nil end
  return tonumber(string.sub(head, 1, bar - 1))
end
`

/** KEYS[1] = active, KEYS[2] = generation counter: the active generation, made 1 on the first call. */
const initialise = `
local function initialise()
  local active = redis.call("GET", KEYS[1])
  if active then return tonumber(active) end
  redis.call("SET", KEYS[1], "1")
  if tonumber(redis.call("GET", KEYS[2]) or "0") < 1 then redis.call("SET", KEYS[2], "1") end
  return 1
end
`

/**
 * KEYS: checkpoint, active, partition checkpoints (a hash). ARGV: expected
 * checkpoint, new checkpoint, requireActive ("1"/"0"), generation, generation
 * key prefix, partition index ("" for an unpartitioned commit), partition
 * count, then the writes:
 * `P key version value ttlMillis|""`, `D key belowVersion`, `A key score member`, `R key member`.
 * Returns `ok`, `checkpoint_moved:<found>` or `not_active:<found>`.
 *
 * A partitioned commit checks and moves its partition's field (`<index>/<of>`)
 * in the hash, then raises the generation's checkpoint to the lowest field of
 * its split (a missing field counts as the generation's checkpoint).
 */
const commit = `${storedVersion}
local stored = redis.call("GET", KEYS[1]) or "0"
if ARGV[3] == "1" and tonumber(redis.call("GET", KEYS[2]) or "1") ~= tonumber(ARGV[4]) then
  return "not_active:" .. stored
end
local field = nil
if ARGV[6] == "" then
  if tonumber(stored) ~= tonumber(ARGV[1]) then return "checkpoint_moved:" .. stored end
else
  field = ARGV[6] .. "/" .. ARGV[7]
  local own = redis.call("HGET", KEYS[3], field) or "0"
  if tonumber(own) ~= tonumber(ARGV[1]) then return "checkpoint_moved:" .. own end
end
local docs = ARGV[5] .. "d:"
local indexes = ARGV[5] .. "i:"
local i = 8
local n = #ARGV
while i <= n do
  local op = ARGV[i]
  if op == "P" then
    local key = docs .. ARGV[i + 1]
    local version = storedVersion(key)
    if version == nil or version < tonumber(ARGV[i + 2]) then
      if ARGV[i + 4] == "" then
        redis.call("SET", key, ARGV[i + 3])
      else
        redis.call("SET", key, ARGV[i + 3], "PX", ARGV[i + 4])
      end
    end
    i = i + 5
  elseif op == "D" then
    local key = docs .. ARGV[i + 1]
    local version = storedVersion(key)
    local below = tonumber(ARGV[i + 2])
    -- A marker (no JSON) at below - 1: later fills and puts below it are refused for an hour.
    if version == nil or version < below then redis.call("SET", key, tostring(below - 1) .. "|", "PX", 3600000) end
    i = i + 3
  elseif op == "A" then
    redis.call("ZADD", indexes .. ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
    i = i + 4
  else
    redis.call("ZREM", indexes .. ARGV[i + 1], ARGV[i + 2])
    i = i + 3
  end
end
if field == nil then
  redis.call("SET", KEYS[1], ARGV[2])
  return "ok"
end
redis.call("HSET", KEYS[3], field, ARGV[2])
local of = tonumber(ARGV[7])
local fields = {}
for p = 0, of - 1 do fields[p + 1] = p .. "/" .. of end
local lowest = nil
for _, value in ipairs(redis.call("HMGET", KEYS[3], unpack(fields))) do
  local at = value and tonumber(value) or tonumber(stored)
  if lowest == nil or at < lowest then lowest = at end
end
-- Never moved back; set even when unchanged, as it marks the generation as holding something. Written as the
-- integer it is: tostring would print a large one in exponent form.
redis.call("SET", KEYS[1], string.format("%d", math.max(lowest, tonumber(stored))))
return "ok"
`

/**
 * KEYS: document, checkpoint. ARGV: version, value, ttlMillis|"". 1 when written.
 * The checkpoint is created at 0 if absent: it marks the generation as holding something.
 */
const fill = `${storedVersion}
local version = storedVersion(KEYS[1])
if version ~= nil and version >= tonumber(ARGV[1]) then return 0 end
if ARGV[3] == "" then
  redis.call("SET", KEYS[1], ARGV[2])
else
  redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
end
redis.call("SET", KEYS[2], "0", "NX")
return 1
`

/** KEYS: active, counter. */
const activeGeneration = `${initialise}
return initialise()
`

/** KEYS: active, counter. The next generation number (never one handed out before). */
const newGeneration = `${initialise}
initialise()
return redis.call("INCR", KEYS[2])
`

/** KEYS: active, counter. ARGV: from, to. 1 when switched, 0 when `from` was not active. */
const switchActive = `${initialise}
local active = initialise()
if tonumber(ARGV[2]) > tonumber(redis.call("GET", KEYS[2]) or "0") then
  return redis.error_reply("generation " .. ARGV[2] .. " was never allocated")
end
if active ~= tonumber(ARGV[1]) then return 0 end
redis.call("SET", KEYS[1], ARGV[2])
return 1
`

/** KEYS: active, counter. ARGV: the projection's generation key base (`…:g`). Active or with a checkpoint. */
const generations = `
local active = tonumber(redis.call("GET", KEYS[1]) or "0")
local last = math.max(active, tonumber(redis.call("GET", KEYS[2]) or "0"))
local out = {}
for n = 1, last do
  if n == active or redis.call("EXISTS", ARGV[1] .. n .. ":checkpoint") == 1 then out[#out + 1] = n end
end
return out
`

type Arg = string | number

/** A client with the store's commands defined on it. */
export interface ScriptedRedis extends Redis {
  agoraRmCommit(
    checkpointKey: string,
    activeKey: string,
    partitionsKey: string,
    argv: ReadonlyArray<Arg>
  ): Promise<string>
  agoraRmFill(docKey: string, checkpointKey: string, version: Arg, value: string, ttlMillis: Arg): Promise<number>
  agoraRmActiveGeneration(activeKey: string, counterKey: string): Promise<number>
  agoraRmNewGeneration(activeKey: string, counterKey: string): Promise<number>
  agoraRmSwitchActive(activeKey: string, counterKey: string, from: Arg, to: Arg): Promise<number>
  agoraRmGenerations(activeKey: string, counterKey: string, generationBase: string): Promise<Array<number>>
}

/** Defines the store's commands on `redis` (idempotent: a second definition replaces the first). */
export const define = (redis: Redis): ScriptedRedis => {
  // Each with the number of its KEYS.
  const scripts = {
    agoraRmCommit: [commit, 3],
    agoraRmFill: [fill, 2],
    agoraRmActiveGeneration: [activeGeneration, 2],
    agoraRmNewGeneration: [newGeneration, 2],
    agoraRmSwitchActive: [switchActive, 2],
    agoraRmGenerations: [generations, 2]
  } as const
  for (const [name, [lua, numberOfKeys]] of Object.entries(scripts)) redis.defineCommand(name, { numberOfKeys, lua })
  // The commands now exist on the client; ioredis types do not track defineCommand.
  return redis as ScriptedRedis
}
