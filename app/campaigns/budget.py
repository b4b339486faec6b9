"""The Redis fast path for a campaign's money and prize stock: say "no" early without touching the database.

Redis mirrors what was taken: a campaign's spent fen, its spent fen per China day, a prize's awarded
count. One Lua script checks every limit that applies and takes from all of them, or from none. The keys
carry the campaign as hash tag (`campaign:{<id>}:...`), so on a Redis Cluster they share a slot and the
script, the seeding and the release stay one atomic call each. The
database stays the source of truth: a "yes" here is followed by the guarded UPDATEs and the CHECKs
there, so a Redis that was flushed, restarted or wrong can never make the campaign overspend.

- A missing key is seeded from the database (SET NX: the first seeder wins) with an expiry, so the
  mirror heals itself: whatever drift a crash left behind is gone within ``MIRROR_SECONDS``.
- A reservation the database then refuses is handed back at once (``release``); one whose transaction
  rolls back for any reason (an error, a deadlock, a retry) is handed back after the rollback
  (``hold_until_commit``, app.platform.after_commit), so a failed claim never leaves Redis charged.
- A mirror that over-counts only says "no" too early (a prize not given); it never says "yes" to money
  the database lacks, because the database is asked every time the answer is "yes". With rollbacks
  handed back, over-counting needs a process killed mid-claim, and lasts until the keys expire.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

import redis as redis_lib

from app.extensions import redis
from app.platform import after_commit

MIRROR_SECONDS = 60

# KEYS: spent, day spent, prize awarded. ARGV: amount, total budget, day budget (-1: none), stock (-1: none), ttl.
# A key whose limit does not apply is skipped. Answers 1 taken, 0 budget, 2 day budget, 3 stock, -1 not seeded.
_TAKE = """
local amount = tonumber(ARGV[1])
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])}
local steps = {amount, amount, 1}
local refusals = {0, 2, 3}
local used = {}
for i = 1, 3 do
  used[i] = steps[i] > 0 and limits[i] >= 0
  if used[i] then
    local value = redis.call('GET', KEYS[i])
    if not value then return -1 end
    if tonumber(value) + steps[i] > limits[i] then return refusals[i] end
  end
end
for i = 1, 3 do
  if used[i] then redis.call('INCRBY', KEYS[i], steps[i]) end
end
return 1
"""


# KEYS as _TAKE's. ARGV: what the prize took from each (0: nothing).
_RELEASE = """
for i = 1, 3 do
  if tonumber(ARGV[i]) > 0 and redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECRBY', KEYS[i], ARGV[i]) end
end
"""


class Answer(enum.IntEnum):
    TAKEN = 1
    BUDGET = 0
    DAY_BUDGET = 2
    STOCK = 3
    UNKNOWN = -1  # not seeded (or Redis is unavailable): the database alone decides


@dataclass(frozen=True)
class Request:
    campaign_id: int
    prize_id: int
    day: date
    amount_fen: int  # 0 for a prize that costs no money
    total_budget_fen: int
    day_budget_fen: int | None
    stock: int | None

    @property
    def keys(self) -> tuple[str, str, str]:
        tag = f"campaign:{{{self.campaign_id}}}"  # one hash slot per campaign
        return f"{tag}:spent", f"{tag}:day:{self.day:%Y%m%d}:spent", f"{tag}:prize:{self.prize_id}:awarded"

    @property
    def steps(self) -> tuple[int, int, int]:
        """What a prize takes from each key (0: that limit does not apply)."""
        return (self.amount_fen, self.amount_fen if self.day_budget_fen is not None else 0,
                1 if self.stock is not None else 0)


def take(request: Request, seed) -> Answer:
    """Take the prize's money and stock in Redis, all or nothing; ``seed()`` gives the database's (spent, day spent, awarded)."""
    try:
        answer = _run(request)
        if answer is Answer.UNKNOWN:
            spent, day_spent, awarded = seed()
            pipe = redis.pipeline(transaction=True)
            for key, value in zip(request.keys, (spent, day_spent, awarded)):
                pipe.set(key, value, nx=True, ex=MIRROR_SECONDS)
            pipe.execute()
            answer = _run(request)
        return answer
    except redis_lib.RedisError:
        return Answer.UNKNOWN


def hold_until_commit(session, request: Request) -> None:
    """A reservation lives as long as the transaction that took it: a rollback hands it back (a savepoint
    released inside it, insert_once of the delivery, is not its commit)."""
    after_commit.on_rollback(lambda: release(request), key=_held(request), session=session)


def _held(request: Request) -> tuple[str, int]:
    return "budget_reservation", id(request)  # this reservation, not an equal one taken beside it


def hand_back(session, request: Request) -> None:
    """Release a reservation now (the database refused it), and stop holding it for the transaction."""
    after_commit.drop(_held(request), session=session)
    release(request)


def release(request: Request) -> None:
    """Hand back what a reservation (or a prize whose money returned) took; keys that expired are left alone."""
    try:
        redis.eval(_RELEASE, 3, *request.keys, *request.steps)
    except redis_lib.RedisError:
        pass  # the mirror expires and is seeded again from the database


def _run(request: Request) -> Answer:
    day_budget = request.day_budget_fen if request.day_budget_fen is not None else -1
    stock = request.stock if request.stock is not None else -1
    answer = redis.eval(_TAKE, 3, *request.keys, request.amount_fen, request.total_budget_fen, day_budget, stock,
                        MIRROR_SECONDS)
    return Answer(int(answer))
