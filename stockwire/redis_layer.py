"""channels-redis' RedisChannelLayer, with one more method: `group_send_many`.

A stock change goes to several groups at once (the item's, the legacy one, a buyer's), and
channels-redis spends four round trips to Redis on each group it sends to, and parses each
answer in Python: on PostgreSQL and Redis that was a third of a purchase's CPU. Here one
call sends to all of them in two round trips per Redis host, the same messages to the same
channels, with the same expiry and capacity rules.

Optional: Stockwire's publisher calls `group_send_many` where the layer has it and
`group_send` for each group where it does not (stockwire/publish.py). It leans on the
internals of channels-redis 4 (how group and channel keys are named and messages
serialized); tests/stockwire/test_redis_layer.py checks it against plain `group_send`.
"""

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence

from channels_redis.core import RedisChannelLayer as ChannelsRedisLayer

logger = logging.getLogger("channels_redis.core")

# For each message: drop what expired from its channel's inbox, then add it unless the inbox
# is full (as channels-redis' send and group_send do). KEYS are inboxes, which may repeat;
# ARGV holds the messages, then their scores, then their inboxes' capacities, then the
# expiry. Answers the positions (1-based) of the messages dropped for a full inbox.
_DELIVER = """
local n = #KEYS
local expiry = tonumber(ARGV[3 * n + 1])
local full = {}
for i = 1, n do
    local score = tonumber(ARGV[n + i])
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, math.floor(score) - expiry)
    if redis.call('ZCARD', KEYS[i]) < tonumber(ARGV[2 * n + i]) then
        redis.call('ZADD', KEYS[i], ARGV[n + i], ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        full[#full + 1] = i
    end
end
return full
"""

# Messages of one call are a microsecond apart in their inboxes, so each inbox gives them
# out in the order they were sent (an inbox pops its lowest score first).
_SPACING = 1e-6


class RedisChannelLayer(ChannelsRedisLayer):
    """channels_redis.core.RedisChannelLayer that sends to many groups in one go."""

    async def group_send_many(self, sends: Sequence[tuple[str, dict]]) -> None:
        """Send each (group, message) to every channel in its group, as `group_send` would."""
        by_host: dict[int, list[tuple[str, dict]]] = defaultdict(list)
        for group, message in sends:
            assert self.require_valid_group_name(group), "Group name not valid"
            by_host[self.consistent_hash(group)].append((group, message))
        # host index -> [(group, inbox key, serialized message, capacity)]
        deliveries: dict[int, list[tuple[str, str, bytes, int]]] = defaultdict(list)
        for index, pairs in by_host.items():
            memberships = await self._members(index, [group for group, _ in pairs])
            for (group, message), channels in zip(pairs, memberships, strict=True):
                inboxes, messages, capacities = self._map_channel_keys_to_connection(
                    channels, message
                )
                for inbox_host, keys in inboxes.items():
                    deliveries[inbox_host].extend(
                        (group, key, messages[key], capacities[key]) for key in keys
                    )
        for index, batch in deliveries.items():
            await self._deliver(index, batch)

    async def _members(self, index: int, groups: list[str]) -> list[list[str]]:
        """The channels in each group, after dropping memberships older than group_expiry."""
        cutoff = int(time.time()) - self.group_expiry
        pipe = self.connection(index).pipeline(transaction=False)
        for group in groups:
            key = self._group_key(group)
            pipe.zremrangebyscore(key, min=0, max=cutoff)
            pipe.zrange(key, 0, -1)
        answers = await pipe.execute()
        return [[name.decode() for name in members] for members in answers[1::2]]

    async def _deliver(self, index: int, batch: list[tuple[str, str, bytes, int]]) -> None:
        now = time.time()
        keys = [key for _, key, _, _ in batch]
        args = [message for _, _, message, _ in batch]
        args += [now + position * _SPACING for position in range(len(batch))]
        args += [capacity for _, _, _, capacity in batch]
        args.append(int(self.expiry))
        # redis-py's script: EVALSHA, loading it first where Redis does not know it yet.
        deliver = self.connection(index).register_script(_DELIVER)
        full = await deliver(keys=keys, args=args)
        # Logged as channels-redis logs it, on its logger: a full inbox is not an error.
        for group, missed in Counter(batch[position - 1][0] for position in full).items():
            logger.info("%s channels over capacity in group %s", missed, group)
