"""Consumer scans: URL forms, every verdict, scanned-before answers, suspected copies, hidden codes, limits."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AppUser
from app.channel.models import DiversionAlert, SeenKind
from app.codes import service as codes
from app.consumers import scan_text
from app.consumers.models import CodeLeakAlert, ConsumerScan, Verdict
from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.trace import recalls
from app.units.models import LocationKind, Unit, UnitScanStats, UnitStatus
from tests.consumer_factories import BEIJING_POS, HANGZHOU_POS, NOW, hidden_code_campaign, prove, scan, short
from tests.masterdata_factories import (
    ACTOR,
    DONGCHENG,
    HANGZHOU,
    XIHU,
    gtin13,
    make_dealer,
    make_product,
    make_store,
)
from tests.unit_factories import issue, serial, set_units


def error_of(fn) -> DomainError:
    with pytest.raises(DomainError) as caught:
        fn()
    return caught.value


# --- URL forms ----------------------------------------------------------------------------------

def test_the_url_forms_all_read_the_same_code(app, goods, users):
    code = goods["items"][0]
    gtin = goods["product"].gtin
    forms = [short(code), f"https://m.example.com/c/{code}?from=wx&t=1", code, code.lower(),
             f"http://M.EXAMPLE.COM/01/{gtin}/21/{code}", f"https://m.example.com/01/{gtin}/10/L2026-03/21/{code}",
             f"m.example.com/c/{code}/"]
    for text in forms:
        assert scan_text.parse_text(text).code == code, text


@pytest.mark.parametrize("text", ["", "hello", "https://evil.example.com/c/0123456789ABCDEFGH",
                                  "https://m.example.com/other/0123456789ABCDEFGH", "https://m.example.com/",
                                  "x" * 600, "ftp://m.example.com/c/0123456789ABCDEFGH",
                                  "https://m.example.com/00/123456789012345678"])
def test_garbage_is_scan_text_invalid(app, users, text):
    user = users()
    error = error_of(lambda: scan(user, text))
    assert (error.status, error.code) == (422, "scan_text_invalid")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsumerScan)) == 0


def test_a_digital_link_with_another_gtin_is_forged(app, goods, users):
    result = scan(users(), f"https://m.example.com/01/{gtin13(9999)}/21/{goods['items'][0]}")
    assert result.verdict is Verdict.FORGED
    padded = scan(users(), f"https://m.example.com/01/0{goods['product'].gtin}/21/{goods['items'][0]}")
    assert padded.verdict is Verdict.GENUINE  # the GTIN-14 form of the product's GTIN-13


# --- verdicts -----------------------------------------------------------------------------------

def test_a_first_scan_is_genuine_with_product_lot_and_story(app, goods, users):
    dealer = make_dealer(territory=[HANGZHOU])
    shop = make_store(name="West Lake Mart", region_code=XIHU)
    item = goods["items"][0]
    with transaction():
        set_units(Unit.serial == serial(item), last_dealer_id=dealer.id, location_kind=LocationKind.CONSUMER, location_id=shop.id)
    result = scan(users(), short(item), latitude=HANGZHOU_POS[0], longitude=HANGZHOU_POS[1])
    assert result.verdict is Verdict.GENUINE and result.scan.scan_number == 1
    assert result.product["name"] == "Jasmine Tea" and result.product["specification"] == "250 g"
    assert result.lot == {"lot_no": "L2026-03", "production_date": date(2026, 3, 2), "expiry_date": date(2027, 3, 2)}
    assert result.story["made"] == {"city": "杭州市", "date": date(2026, 3, 2)}
    assert result.story["dealer_regions"] == ["杭州市"]
    assert result.story["store"] == {"name": "West Lake Mart", "city": "杭州市", "sold": True}
    assert "Dealer" not in str(result.story)  # no dealer name: private business data
    assert result.scans["count"] == 1 and result.scans["first_city"] == "杭州市"
    assert result.campaigns == [] and result.scan.region_code == XIHU
    assert result.hidden_code == {"required": False, "ok": None, "locked": False}


def test_a_second_scan_answers_how_many_times_when_and_where_first(app, goods, users):
    user = users()
    item = goods["items"][1]
    scan(user, short(item), latitude=BEIJING_POS[0], longitude=BEIJING_POS[1])
    result = scan(user, item, latitude=BEIJING_POS[0], longitude=BEIJING_POS[1], now=NOW + timedelta(hours=1))
    assert result.verdict is Verdict.SCANNED_BEFORE and result.scan.scan_number == 2
    assert result.scans["count"] == 2 and result.scans["first_at"] == NOW
    assert result.scans["first_city"] == "北京市"
    stats = db.session.get(UnitScanStats, serial(item))
    assert (stats.scans, stats.first_region_code, stats.first_app_user_id) == (2, DONGCHENG, user.id)
    assert stats.last_scanned_at == NOW + timedelta(hours=1)


def test_many_users_in_the_window_make_a_suspected_copy(app, goods, users):
    item = goods["items"][2]
    verdicts = [scan(users(), short(item), now=NOW + timedelta(minutes=i)).verdict for i in range(3)]
    assert verdicts == [Verdict.GENUINE, Verdict.SCANNED_BEFORE, Verdict.SUSPECTED_COPY]
    # Outside the window the same users are not counted together.
    later = scan(users(), short(item), now=NOW + timedelta(hours=30)).verdict
    assert later is Verdict.SCANNED_BEFORE


def test_two_regions_in_the_window_make_a_suspected_copy(app, goods, users):
    user = users()
    item = goods["items"][3]
    assert scan(user, short(item), latitude=HANGZHOU_POS[0], longitude=HANGZHOU_POS[1]).verdict is Verdict.GENUINE
    result = scan(user, short(item), latitude=BEIJING_POS[0], longitude=BEIJING_POS[1], now=NOW + timedelta(hours=2))
    assert result.verdict is Verdict.SUSPECTED_COPY


def test_the_thresholds_are_configurable(app, goods, users, monkeypatch):
    monkeypatch.setitem(app.config, "CONSUMER_COPY_USERS", 2)
    item = goods["items"][4]
    scan(users(), short(item))
    assert scan(users(), short(item)).verdict is Verdict.SUSPECTED_COPY


def test_forged_codes_are_recorded_without_a_serial(app, goods, users):
    user = users()
    code = goods["items"][0]
    tampered = code[:-1] + ("0" if code[-1] != "0" else "1")
    ring = codes.keyring()
    never_issued = ring.encode(ring.decode(code).serial + 10_000)
    for text in (short(tampered), tampered, short("NOTACODE"), short(never_issued)):
        result = scan(user, text)
        assert result.verdict is Verdict.FORGED and result.scan.serial is None and result.product is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UnitScanStats)) == 0


def test_an_issued_code_never_commissioned_raises_one_leak_alert_per_code_with_a_count(app, users):
    issued = issue(3, product_id=make_product(name="Leaky").id)
    for i in range(3):
        result = scan(users(), short(issued[0]), now=NOW + timedelta(minutes=i))
        assert result.verdict is Verdict.NOT_COMMISSIONED and result.product["name"] == "Leaky"
    scan(users(), short(issued[1]))
    alerts = db.session.scalars(sa.select(CodeLeakAlert).order_by(CodeLeakAlert.serial)).all()
    assert [(a.code, a.scans) for a in alerts] == [(issued[0], 3), (issued[1], 1)]
    assert alerts[0].first_seen_at == NOW and alerts[0].last_seen_at == NOW + timedelta(minutes=2)


def test_voided_scrapped_and_recalled(app, goods, users):
    user = users()
    voided = issue(1)
    with transaction():
        codes.void_batch(actor=ACTOR, batch_id=voided.batch.id, reason="misprint")
    assert scan(user, short(voided[0])).verdict is Verdict.VOIDED
    items = goods["items"]
    with transaction():
        set_units(Unit.serial == serial(items[0]), status=UnitStatus.SCRAPPED)
        set_units(Unit.serial == serial(items[1]), status=UnitStatus.VOIDED)
    assert scan(user, short(items[0])).verdict is Verdict.SCRAPPED
    assert scan(user, short(items[1])).verdict is Verdict.VOIDED
    with transaction():
        recalls.recall_lot(actor=ACTOR, lot_id=goods["lot"].id, reason="contamination")
    result = scan(user, short(items[2]))
    assert result.verdict is Verdict.RECALLED and result.product["name"] == "Jasmine Tea"
    assert "召回" in result.message


# --- hidden codes ---------------------------------------------------------------------------------

def wrong(right: str) -> str:
    return "000000" if right != "000000" else "111111"


def test_a_hidden_code_is_required_and_checked(app, hidden, users):
    user = users()
    first = scan(user, short(hidden["code"]))
    assert first.hidden_code == {"required": True, "ok": None, "locked": False} and "hidden code" in first.message
    result = scan(user, short(hidden["code"]), hidden_code=hidden["right"])
    assert result.hidden_code == {"required": True, "ok": True, "locked": False} and result.scan.hidden_code_ok
    wrongly = scan(user, short(hidden["code"]), hidden_code=wrong(hidden["right"]))
    assert wrongly.hidden_code["ok"] is False and "wrong" in wrongly.message


def test_the_hidden_code_is_a_step_on_the_scan_made_not_another_scan(app, hidden, users):
    buyer = users()
    first = scan(buyer, short(hidden["code"]))
    assert first.verdict is Verdict.GENUINE and first.hidden_code["ok"] is None
    wrongly = prove(buyer, first.scan_id, wrong(hidden["right"]))
    assert (wrongly.verdict, wrongly.hidden_code["ok"]) == (Verdict.GENUINE, False) and "wrong" in wrongly.message
    rightly = prove(buyer, first.scan_id, hidden["right"])
    # The buyer's verdict stays "genuine, first scan": the step is not a second scan.
    assert (rightly.verdict, rightly.hidden_code) == (Verdict.GENUINE, {"required": True, "ok": True, "locked": False})
    assert "正品，首次查询" in rightly.message and "right" in rightly.message
    db.session.expire_all()
    assert db.session.get(ConsumerScan, first.scan_id).hidden_code_ok is True
    assert db.session.get(UnitScanStats, serial(hidden["code"])).scans == 1
    # Proved stays proved: asking again (a retry) answers the same, whatever is typed.
    assert prove(buyer, first.scan_id, wrong(hidden["right"])).hidden_code["ok"] is True
    assert scan(users(), short(hidden["code"])).scans["count"] == 2  # the next real scan is the second


def test_a_wrong_guess_racing_the_right_code_never_undoes_the_proof(app, hidden, users, monkeypatch):
    from sqlalchemy.orm.attributes import set_committed_value

    from app.consumers import scan_writer

    buyer = users()
    made = scan(buyer, short(hidden["code"]))
    assert prove(buyer, made.scan_id, hidden["right"]).hidden_code["ok"] is True
    own_scan = scan_writer.own_scan

    def read_before_the_proof(scan_id, user):  # this request read the row before the right code committed
        row = own_scan(scan_id, user)
        set_committed_value(row, "hidden_code_ok", None)
        return row
    monkeypatch.setattr(scan_writer, "own_scan", read_before_the_proof)
    late = prove(buyer, made.scan_id, wrong(hidden["right"]))
    assert late.hidden_code["ok"] is False  # this guess was wrong...
    db.session.expire_all()
    assert db.session.get(ConsumerScan, made.scan_id).hidden_code_ok is True  # ...and the proof stands


def test_the_hidden_code_step_is_for_my_own_scan_of_a_code_that_has_one(app, hidden, goods, users):
    buyer, stranger = users(), users()
    mine = scan(buyer, short(hidden["code"]))
    assert error_of(lambda: prove(stranger, mine.scan_id, hidden["right"])).code == "scan_not_found"
    db.session.rollback()
    assert error_of(lambda: prove(buyer, mine.scan_id + 10_000, hidden["right"])).code == "scan_not_found"
    db.session.rollback()
    plain = scan(buyer, short(goods["items"][0]))
    error = error_of(lambda: prove(buyer, plain.scan_id, "123456"))
    assert (error.status, error.code) == (409, "no_hidden_code")


def test_wrong_guesses_in_the_step_are_throttled_like_those_sent_with_a_scan(app, hidden, users):
    guesser = users()
    made = scan(guesser, short(hidden["code"]))
    for n in range(app.config["HIDDEN_CODE_MAX_FAILURES_PER_USER"]):
        guess = f"{(int(hidden['right']) + n + 1) % 1_000_000:06d}"
        assert prove(guesser, made.scan_id, guess).hidden_code["ok"] is False
    error = error_of(lambda: prove(guesser, made.scan_id, hidden["right"]))
    assert (error.status, error.code) == (429, "too_many_attempts")


def test_a_first_scan_only_hidden_code_draw_goes_to_the_first_who_proves_the_code(app, hidden, users):
    from app.campaigns import claims
    from app.campaigns.models import DrawOutcome

    campaign = hidden_code_campaign(first_scan_only=True)
    stranger, buyer = users(), users()
    # A stranger scans the shelf's bottle first and guesses wrong: nothing of the bottle's is used up.
    peek = scan(stranger, short(hidden["code"]), hidden_code=wrong(hidden["right"]))
    assert peek.campaigns == [] and [c["reason"] for c in peek.closed_campaigns] == ["hidden_code_needed"]
    error = error_of(lambda: claims.claim(user=stranger, scan_id=peek.scan_id, campaign_id=campaign.id, now=NOW))
    assert error.errors["reason"] == "hidden_code_needed"
    db.session.rollback()
    # The buyer scans second (scanned before) and proves the digits: the draw is theirs.
    bought = scan(buyer, short(hidden["code"]))
    assert bought.verdict is Verdict.SCANNED_BEFORE
    assert [(c["id"], c["reason"]) for c in bought.closed_campaigns] == [(campaign.id, "hidden_code_needed")]
    proved = prove(buyer, bought.scan_id, hidden["right"])
    assert [c["id"] for c in proved.campaigns] == [campaign.id] and proved.closed_campaigns == []
    # The stranger, told the digits later, proved second: closed to them, and said why.
    later = prove(stranger, peek.scan_id, hidden["right"])
    assert later.campaigns == [] and [c["reason"] for c in later.closed_campaigns] == ["not_first_proof"]
    error = error_of(lambda: claims.claim(user=stranger, scan_id=peek.scan_id, campaign_id=campaign.id, now=NOW))
    assert error.errors["reason"] == "not_first_proof"
    db.session.rollback()
    with transaction():
        won = claims.claim(user=buyer, scan_id=bought.scan_id, now=NOW)
    assert won.draw.outcome is DrawOutcome.WON and won.draw.app_user_id == buyer.id


def test_a_right_code_sent_with_the_scan_proves_it_first_too(app, hidden, users):
    campaign = hidden_code_campaign(first_scan_only=True)
    first, second = users(), users()
    assert [c["id"] for c in scan(first, short(hidden["code"]), hidden_code=hidden["right"]).campaigns] == [campaign.id]
    other = scan(second, short(hidden["code"]), hidden_code=hidden["right"])
    assert other.campaigns == [] and [c["reason"] for c in other.closed_campaigns] == ["not_first_proof"]


def test_strangers_guessing_wrong_never_lock_out_the_buyer_who_holds_the_code(app, hidden, users, monkeypatch):
    from app.campaigns import claims
    from app.campaigns.models import DrawOutcome

    monkeypatch.setitem(app.config, "HIDDEN_CODE_MAX_FAILURES_PER_CODE", 3)  # five strangers go past it
    campaign = hidden_code_campaign()
    for n in range(5):
        guess = scan(users(), short(hidden["code"]), hidden_code=wrong(hidden["right"]), ip=f"203.0.113.{n}")
        assert guess.hidden_code["ok"] is False
    buyer = users()
    result = scan(buyer, short(hidden["code"]), hidden_code=hidden["right"], ip="198.51.100.7")
    assert result.hidden_code == {"required": True, "ok": True, "locked": False}
    # Six people scanned the QR (a suspected copy), but the scratched-off digits prove the buyer holds it.
    assert [c["id"] for c in result.campaigns] == [campaign.id]
    with transaction():
        won = claims.claim(user=buyer, scan_id=result.scan.id, now=NOW)
    assert won.draw.outcome is DrawOutcome.WON and won.draw.amount == 88


def test_past_the_codes_cap_a_stranger_who_guessed_wrong_is_not_checked_again(app, hidden, users, monkeypatch):
    monkeypatch.setitem(app.config, "HIDDEN_CODE_MAX_FAILURES_PER_CODE", 3)
    strangers = [users() for _ in range(3)]
    for stranger in strangers:
        assert scan(stranger, short(hidden["code"]), hidden_code=wrong(hidden["right"])).hidden_code["ok"] is False
    # Past the cap each further guess costs a fresh account: the ones who guessed wrong are not checked,
    # not even with the right digits, and the answer says so.
    again = scan(strangers[0], short(hidden["code"]), hidden_code=hidden["right"])
    assert again.hidden_code == {"required": True, "ok": None, "locked": True} and "locked" in again.message
    # Another code is not concerned.
    assert scan(strangers[0], short(hidden["other"]), hidden_code=hidden["right_other"]).hidden_code["ok"] is True


def test_one_guesser_making_many_wrong_guesses_gets_429(app, hidden, users):
    guesser = users()
    for n in range(app.config["HIDDEN_CODE_MAX_FAILURES_PER_USER"]):
        guess = f"{(int(hidden['right']) + n + 1) % 1_000_000:06d}"
        assert scan(guesser, short(hidden["code"]), hidden_code=guess).hidden_code["ok"] is False
    error = error_of(lambda: scan(guesser, short(hidden["code"]), hidden_code=hidden["right"]))
    assert (error.status, error.code) == (429, "too_many_attempts") and int(error.headers["Retry-After"]) > 0
    # The code's cap (20 a day) is reached too, yet the buyer still gets in.
    assert scan(users(), short(hidden["code"]), hidden_code=hidden["right"]).hidden_code["ok"] is True


def test_one_address_making_many_wrong_guesses_gets_429(app, hidden, users, monkeypatch):
    monkeypatch.setitem(app.config, "HIDDEN_CODE_MAX_FAILURES_PER_IP", 4)
    for _ in range(4):
        scan(users(), short(hidden["code"]), hidden_code=wrong(hidden["right"]), ip="203.0.113.9")
    error = error_of(lambda: scan(users(), short(hidden["other"]), hidden_code=hidden["right_other"],
                                  ip="203.0.113.9"))
    assert (error.status, error.code) == (429, "too_many_attempts")
    assert scan(users(), short(hidden["other"]), hidden_code=hidden["right_other"],
                ip="198.51.100.7").hidden_code["ok"] is True


def test_a_user_with_too_many_wrong_hidden_codes_is_stopped(app, hidden, users, monkeypatch):
    monkeypatch.setitem(app.config, "HIDDEN_CODE_MAX_FAILURES_PER_USER", 3)
    monkeypatch.setitem(app.config, "HIDDEN_CODE_MAX_FAILURES_PER_CODE", 100)
    user = users()
    for _ in range(3):
        scan(user, short(hidden["code"]), hidden_code=wrong(hidden["right"]))
    error = error_of(lambda: scan(user, short(hidden["other"]), hidden_code=hidden["right_other"]))
    assert (error.status, error.code) == (429, "too_many_attempts") and int(error.headers["Retry-After"]) > 0
    assert scan(users(), short(hidden["other"]), hidden_code=hidden["right_other"]).hidden_code["ok"] is True


# --- rate limits ---------------------------------------------------------------------------------

@pytest.mark.parametrize("setting, per", [("CONSUMER_SCANS_PER_MINUTE_USER", "user"),
                                          ("CONSUMER_SCANS_PER_MINUTE_IP", "ip"),
                                          ("CONSUMER_SCANS_PER_MINUTE_CODE", "code")])
def test_rate_limits_per_user_ip_and_code(app, goods, users, monkeypatch, setting, per):
    monkeypatch.setitem(app.config, setting, 2)
    user = users()
    items = goods["items"]
    for i in range(2):
        scan(user if per != "code" else users(), short(items[0] if per == "code" else items[i]), ip="10.0.0.1")
    who = user if per != "code" else users()
    error = error_of(lambda: scan(who, short(items[0] if per == "code" else items[5]), ip="10.0.0.1"))
    assert (error.status, error.code) == (429, "rate_limited") and 0 < int(error.headers["Retry-After"]) <= 60
    # Another user, address or code is not held back.
    if per == "user":
        scan(users(), short(items[5]), ip="10.0.0.1")
    elif per == "ip":
        scan(user, short(items[5]), ip="10.0.0.2")
    else:
        scan(users(), short(items[5]), ip="10.0.0.1")


# --- diversion ------------------------------------------------------------------------------------

def test_a_consumer_scan_far_from_the_dealers_territory_raises_a_diversion_alert(app, goods, users):
    dealer = make_dealer(territory=[HANGZHOU])
    with transaction():
        set_units(Unit.serial.in_([serial(c) for c in goods["items"][:2]]), last_dealer_id=dealer.id, location_kind=LocationKind.DEALER,
                                   location_id=dealer.id)
    user = users()
    scan(user, short(goods["items"][0]), latitude=HANGZHOU_POS[0], longitude=HANGZHOU_POS[1])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DiversionAlert)) == 0
    scan(user, short(goods["items"][1]), latitude=BEIJING_POS[0], longitude=BEIJING_POS[1])
    alert = db.session.scalar(sa.select(DiversionAlert))
    assert alert.seen_kind is SeenKind.CONSUMER_SCAN and alert.place_key == f"region:{DONGCHENG}"
    assert alert.serial == serial(goods["items"][1]) and alert.dealer_id == dealer.id


def test_scans_of_one_unit_from_many_threads_count_each_once(app, mariadb, goods, users):
    from tests.concurrency import at_once, results_and_errors

    item = goods["items"][5]
    people = [users() for _ in range(6)]
    ids = [p.id for p in people]

    def one(i):
        user = db.session.get(AppUser, ids[i])
        return scan(user, short(item)).scan.scan_number

    results, errors = results_and_errors(at_once(app, *[lambda i=i: one(i) for i in range(6)]))
    assert errors == [None] * 6
    assert sorted(results) == [1, 2, 3, 4, 5, 6]
    db.session.rollback()  # a fresh snapshot
    assert db.session.get(UnitScanStats, serial(item)).scans == 6


def test_scans_of_one_leaked_code_from_many_threads_make_one_alert(app, mariadb, users):
    from tests.concurrency import at_once, results_and_errors

    issued = issue(1)
    ids = [users().id for _ in range(8)]

    def one(i):
        return scan(db.session.get(AppUser, ids[i]), short(issued[0])).verdict

    results, errors = results_and_errors(at_once(app, *[lambda i=i: one(i) for i in range(8)]))
    assert errors == [None] * 8 and set(results) == {Verdict.NOT_COMMISSIONED}
    db.session.rollback()
    (alert,) = db.session.scalars(sa.select(CodeLeakAlert)).all()
    assert alert.scans == 8
    # The reports count one alert raised, and eight scans.
    from tests.report_checks import figure, rollup_differences

    assert (figure("alert.leak"), figure("scan", variant="not_commissioned")) == (1, 8)
    assert rollup_differences() == {}
