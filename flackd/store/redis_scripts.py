"""The Lua scripts of the Redis store (:mod:`flackd.store.redis`), one per atomic step.

Owns: the text of every script flackd runs in Redis. Each takes every key it touches in
``KEYS`` (Redis Cluster's rule; all in one hash slot). Imports nothing; only
``flackd.store.redis`` uses it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ABANDON", "APPEND", "JOIN", "REAP", "RENEW", "SAVE"]

JOIN: Final = """
-- KEYS: epoch config nodes lease   ARGV: config node lease_ms tag
local ep = redis.call('GET', KEYS[1])
if not ep then
  local t = redis.call('TIME')
  ep = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
  redis.call('SET', KEYS[1], ep)
end
local cfg = redis.call('GET', KEYS[2])
if cfg and cfg ~= ARGV[1] then
  -- Only nodes still holding a lease count: crashed ones must not keep a new config out.
  for _, node in ipairs(redis.call('HKEYS', KEYS[3])) do
    if redis.call('EXISTS', ARGV[4] .. 'lease:' .. node) == 1 then
      return redis.error_reply('CONFIG ' .. cfg)
    end
  end
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], 0)
redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[3])
return ep
"""

# Stamps Redis's clock (microseconds, never going back) and appends one entry.
STAMP: Final = """
local function stamp(clock)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('GET', clock) or '0')
  if now <= last then now = last + 1 end
  local text = string.format('%.0f', now)
  redis.call('SET', clock, text)
  return text
end
local function add(log, seqkey, epoch, maxlen, origin, ts, body)
  local seq = redis.call('INCR', seqkey)
  redis.call('XADD', log, 'MAXLEN', '~', maxlen, epoch .. '-' .. seq,
             'o', origin, 't', ts, 'b', body)
end
"""

APPEND: Final = (
    STAMP
    + """
-- KEYS: epoch nodes lease seq log clock   ARGV: epoch node first lease_ms maxlen body...
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('EPOCH') end
local last = redis.call('HGET', KEYS[2], ARGV[2])
if not last then return redis.error_reply('FENCED') end
if redis.call('EXISTS', KEYS[3]) == 0 then return redis.error_reply('LEASE') end
last = tonumber(last)
local first = tonumber(ARGV[3])
local before = tonumber(redis.call('GET', KEYS[4]) or '0')
local ts = stamp(KEYS[6])
local stored = 0
for i = 6, #ARGV do
  local num = first + i - 6
  if num > last then
    add(KEYS[5], KEYS[4], ARGV[1], ARGV[5], ARGV[2], ts, ARGV[i])
    last = num
    stored = stored + 1
  end
end
redis.call('HSET', KEYS[2], ARGV[2], last)
return before  -- the entry number before this append: never below what anyone read
"""
)

RENEW: Final = """
-- KEYS: epoch nodes lease seq   ARGV: epoch node lease_ms
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('EPOCH') end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then return redis.error_reply('FENCED') end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return tonumber(redis.call('GET', KEYS[4]) or '0')
"""

REAP: Final = (
    STAMP
    + """
-- KEYS: epoch nodes seq log clock lease...   ARGV: epoch maxlen force node...
-- A node is declared dead when its lease has expired (or, with force=1, at once: it
-- retires). Its death is one entry in the log, appended in the same step.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('EPOCH') end
local dead = {}
for i = 4, #ARGV do
  local node = ARGV[i]
  local lease = KEYS[i + 2]
  if redis.call('HEXISTS', KEYS[2], node) == 1
     and (ARGV[3] == '1' or redis.call('EXISTS', lease) == 0) then
    redis.call('HDEL', KEYS[2], node)
    redis.call('DEL', lease)
    add(KEYS[4], KEYS[3], ARGV[1], ARGV[2], '', stamp(KEYS[5]), '["dead","' .. node .. '"]')
    table.insert(dead, node)
  end
end
return dead
"""
)

ABANDON: Final = """
-- KEYS: epoch log seq clock nodes snap   ARGV: epoch
-- Redis holds less of the log than a node has read (it came back from an older copy): no
-- copy can be trusted, so the log starts again under a new epoch (never a reused id).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
local t = redis.call('TIME')
redis.call('SET', KEYS[1], t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000)))
return 1
"""

SAVE: Final = """
-- KEYS: epoch snap log   ARGV: epoch seq data keep
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('EPOCH') end
local seq = tonumber(ARGV[2])
local current = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
if current >= seq then return 0 end
redis.call('HSET', KEYS[2], 'seq', ARGV[2], 'data', ARGV[3])
local keep = seq - tonumber(ARGV[4])
if keep > 0 then
  -- LIMIT 0: all of it (by default '~' trims at most 10,000 entries a call)
  redis.call('XTRIM', KEYS[3], 'MINID', '~', ARGV[1] .. '-' .. keep, 'LIMIT', 0)
end
return 1
"""
