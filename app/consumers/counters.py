"""A consumer scan's Redis counters: its rate limits, and the wrong guesses of hidden codes and who made them."""
from __future__ import annotations

from app.accounts.models import AppUser
from app.codes import service as codes
from app.consumers.errors import RateLimited, TooManyAttempts
from app.extensions import redis
from app.platform import ratelimit
from app.platform.settings import setting


def rate_limit(key: str, limit: int) -> None:
    """At most ``limit`` hits a minute under this key (429 rate_limited with Retry-After past it)."""
    rate_limits([(key, limit)])


def rate_limits(limits: list[tuple[str, int]]) -> None:
    """rate_limit for each (key, limit) in turn, in one Redis round trip: the first one past its limit
    answers 429 (keys after it are not counted, as with separate calls)."""
    ratelimit.enforce(limits, refuse=RateLimited)


# Hidden codes. A guess is throttled by who makes it, not by the code: a stranger's wrong guesses must
# never stop the buyer, who holds the scratched-off code. Each openid and each IP gets a few wrong
# guesses an hour (then 429). The code itself counts wrong guesses too: past its cap
# (HIDDEN_CODE_MAX_FAILURES_PER_CODE in HIDDEN_CODE_LOCK_HOURS, 20 a day) only a guesser who has not yet
# guessed wrong on it is still checked, so each further guess costs the attacker another WeChat
# account that is not throttled. Why brute force stays hopeless: a 6-digit hidden code is one of 10^6;
# at 20 free wrong guesses a day, finding it takes 25,000 days on average, and past the cap the
# expected 500,000 guesses each burn an account (and every IP is capped too). The buyer, with the right
# digits and no wrong guess of their own on the code, always passes.

def _code_failures_key(serial: int) -> str:
    return f"consumer:hidden:fail:code:{serial}"


def _code_guessers_key(serial: int) -> str:
    return f"consumer:hidden:guessers:code:{serial}"


def _user_failures_key(user_id: int) -> str:
    return f"consumer:hidden:fail:user:{user_id}"


def _ip_failures_key(ip: str) -> str:
    return f"consumer:hidden:fail:ip:{ip}"


def _guesser_throttled(user: AppUser, ip: str | None) -> None:
    """429 too_many_attempts when this openid or IP has had its wrong guesses for the hour."""
    checks = [(_user_failures_key(user.id), setting("HIDDEN_CODE_MAX_FAILURES_PER_USER"))]
    if ip:
        checks.append((_ip_failures_key(ip), setting("HIDDEN_CODE_MAX_FAILURES_PER_IP")))
    for key, limit in checks:
        failures, ttl = ratelimit.count(key)
        if failures >= limit:
            raise TooManyAttempts(**ratelimit.retry_after(ttl))


def _shut_out(serial: int, user: AppUser) -> bool:
    """Past the code's cap on wrong guesses, and this user has already guessed wrong on it."""
    pipe = redis.pipeline(transaction=False)  # two reads, of keys in two hash slots on a cluster
    pipe.get(_code_failures_key(serial))
    pipe.sismember(_code_guessers_key(serial), user.id)
    failures, guessed_wrong = pipe.execute()
    return int(failures or 0) >= setting("HIDDEN_CODE_MAX_FAILURES_PER_CODE") and bool(guessed_wrong)


def _count_wrong_guess(serial: int, user: AppUser, ip: str | None) -> None:
    window = setting("HIDDEN_CODE_LOCK_HOURS") * 3600
    ratelimit.hit(_code_failures_key(serial), window)
    pipe = redis.pipeline(transaction=True)
    pipe.sadd(_code_guessers_key(serial), user.id)
    pipe.expire(_code_guessers_key(serial), window, nx=True)
    pipe.execute()
    ratelimit.hit(_user_failures_key(user.id), 3600)
    if ip:
        ratelimit.hit(_ip_failures_key(ip), 3600)


def _check_hidden(*, user: AppUser, resolution, given: str | None, ip: str | None = None) -> dict:
    digits = resolution.batch.hidden_code_digits if resolution.batch is not None else None
    answer = {"required": bool(digits), "ok": None, "locked": False}
    if not digits or given is None or not str(given).strip():
        return answer
    _guesser_throttled(user, ip)
    if _shut_out(resolution.serial, user):
        answer["locked"] = True
        return answer
    ok = codes.keyring().check_hidden_code(codes.keyring().decode(resolution.code), digits, str(given))
    answer["ok"] = ok
    if not ok:
        _count_wrong_guess(resolution.serial, user, ip)
        answer["locked"] = _shut_out(resolution.serial, user)
    return answer
