"""The demo's whole chain, played through the HTTP API as each party would, with sandbox logins.

codes issued (back office) → produced and packed (the line's API key) → shipped by the brand's
warehouse PDA to a tier-1 dealer → received, shipped on to a tier-2 dealer → received, shipped to a
store → received by its clerk → sold → scanned by consumers (genuine, scanned before, forged) →
a campaign's prizes claimed → the payout worker → the user confirms the transfer in WeChat (the
sandbox) → WeChat Pay's callback → the payout succeeded.

Every call goes through the app's WSGI stack with the Flask test client: routing, authentication,
roles and scopes, schemas, errors and idempotency all run as for a real request, but no socket is
needed — the seed runs before the server starts (`make run`), and the embedded default's Redis is
in-process, so the requests must be made in this process anyway. Mini-program users sign in with
sandbox wx.login codes; only the sandbox (on loopback) is called, never WeChat. The one real socket:
WeChat Pay's callback, which the sandbox POSTs over HTTP, so while the payouts are paid this app is
also served on a loopback port and WECHATPAY_NOTIFY_URL points there (put back afterwards).

Each seed plays the chain again, with fresh codes: play n makes its own lot (external id
DEMO-CHAIN-nnnn), code batches, API keys (revoked at the end), mini-program users and a campaign
limited to that lot, so it never meets an earlier play's units, users or prizes; the master data,
the back-office users and the first 1,000-code batch are not touched. A play that failed half-way
leaves its lot behind, and the next seed simply plays n + 1.
"""
from __future__ import annotations

import contextlib
import csv
import io
import logging
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import requests
import sqlalchemy as sa
from flask import current_app
from werkzeug.serving import make_server

from app.extensions import db
from app.masterdata.models import Dealer, Product, ProductionLine, Store, Warehouse
from app.payouts import worker
from app.platform.clock import BUSINESS_TZ
from app.production.models import ProductionLot
from app.wechat import runtime

LOT_PREFIX = "DEMO-CHAIN-"
ITEMS = 24  # one full case of the demo tea
SOLD = 12  # bottles the clerk sells: the consumers' bottles
EXPORT_WAIT_SECONDS = 60
CALLBACK_WAIT_SECONDS = 30
CASH_PRIZE_FEN = 88
CASH_PPM = 700_000
POINTS_PRIZE = 50
POINTS_PPM = 300_000  # with the cash prize: every draw wins one of the two
NOTIFY_PATH = "/api/payouts/wechat/notify"


class DemoChainFailed(RuntimeError):
    """A step of the chain got an answer it did not expect (which step, what was asked, what came back)."""


@dataclass
class ChainResult:
    play: int
    lines: list[str] = field(default_factory=list)  # one per step, with its key figure
    links: list[tuple[str, str]] = field(default_factory=list)  # (what, path) to look at afterwards
    facts: dict = field(default_factory=dict)  # for tests: verdicts, outcomes, payout statuses


def summary(result: ChainResult, base_url: str) -> str:
    """The chain's summary as `flask demo seed` prints it: a line per step, then where to look."""
    width = max((len(what) for what, _ in result.links), default=0)
    return "\n".join([f"  The whole chain, played through the HTTP API (play {result.play}):", "",
                      *(f"  {line}" for line in result.lines), "",
                      *(f"  {what:<{width}}  {base_url}{path}" for what, path in result.links)])


class _Api:
    """The test client with the step's name on every failure."""

    def __init__(self, client):
        self.client = client
        self.step = "start"

    def call(self, method: str, path: str, *, headers: dict | None = None, json=None, expect=(200, 201),
             **kwargs):
        # The test client shares the seed's app context, hence its session: end whatever that session
        # read before, so each request starts from a fresh snapshot as a real one would.
        db.session.rollback()
        response = self.client.open(path, method=method, headers=headers or {}, json=json, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in expected:
            body = response.get_json(silent=True)
            raise DemoChainFailed(f"demo chain, step {self.step!r}: {method} {path} answered "
                                  f"{response.status_code} (expected {'/'.join(map(str, expected))}): "
                                  f"{body if body is not None else response.data[:300]!r}")
        return response

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs).get_json()

    def post(self, path, **kwargs):
        return self.call("POST", path, **kwargs).get_json()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _play_number() -> int:
    played = db.session.scalars(sa.select(ProductionLot.external_id)
                                .where(ProductionLot.external_id.like(f"{LOT_PREFIX}%"))).all()
    numbers = [int(e[len(LOT_PREFIX):]) for e in played if e[len(LOT_PREFIX):].isdigit()]
    return max(numbers, default=0) + 1


def _by_external_id(model, external_id: str):
    row = db.session.scalar(sa.select(model).where(model.external_id == external_id))
    if row is None:
        raise DemoChainFailed(f"demo chain: the demo's {model.__name__} {external_id} is missing (seed first)")
    return row


def _forged(code: str) -> str:
    """The code with its last character changed: the MAC no longer matches (a copy made up by hand)."""
    return code[:-1] + ("Z" if code[-1] != "Z" else "Y")


def play(*, password: str) -> ChainResult:
    """Play the whole chain once more with fresh codes; returns the summary. Not inside a transaction."""
    db.session.commit()
    wechat = runtime()
    if not (wechat.uses_sandbox("WECHAT_API_BASE") and wechat.uses_sandbox("WECHATPAY_API_BASE")):
        # The chain signs users in and pays them: only ever against the sandbox, never WeChat itself.
        result = ChainResult(play=0)
        result.lines.append("chain       not played: WECHAT_API_BASE / WECHATPAY_API_BASE are not the sandbox")
        return result
    n = _play_number()
    product = _by_external_id(Product, "DEMO-SKU-001")
    warehouse = _by_external_id(Warehouse, "DEMO-WH-HZ")
    tier1, tier2 = _by_external_id(Dealer, "DEMO-DLR-ZJ"), _by_external_id(Dealer, "DEMO-DLR-HZ")
    store = _by_external_id(Store, "DEMO-STO-HZ1")
    line = db.session.scalar(sa.select(ProductionLine).where(ProductionLine.code == "L1",
                                                             ProductionLine.factory_id == warehouse.factory_id))
    ids = {"product": product.id, "warehouse": warehouse.id, "tier1": tier1.id, "tier2": tier2.id,
           "store": store.id, "line": line.id, "factory": line.factory_id}
    names = {"tier1": tier1.name, "tier2": tier2.name, "store": store.name, "warehouse": warehouse.name,
             "product": product.name, "line": line.name}
    db.session.commit()
    chain = _Chain(_Api(current_app.test_client()), n=n, password=password, ids=ids, names=names)
    quiet = logging.getLogger("werkzeug")  # the sandbox's and the callback server's request lines
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        return chain.run()
    finally:
        quiet.setLevel(level)


class _Chain:
    def __init__(self, api: _Api, *, n: int, password: str, ids: dict, names: dict):
        self.api, self.n, self.password, self.ids, self.names = api, n, password, ids, names
        self.result = ChainResult(play=n)
        self.tag = f"demo{n}"

    def say(self, line: str) -> None:
        self.result.lines.append(line)

    def step(self, name: str) -> None:
        self.api.step = name

    # --- who is who ------------------------------------------------------------------------------

    def back_office(self, role: str) -> dict:
        body = self.api.post("/api/admin/auth/login", json={"username": f"demo-{role}", "password": self.password})
        return _bearer(body["token"])

    def wx_login(self, app: str, who: str) -> dict:
        """wx.login in the mini-program, then its code to our login (the sandbox plays code2session)."""
        code = f"sandbox:{self.tag}-{who}:{time.time_ns()}"
        body = self.api.post(f"/api/{app}/auth/login", json={"code": code})
        return _bearer(body["token"])

    def with_approval(self, method: str, path: str, *, headers: dict, **kwargs):
        """An action under dual control (DUAL_CONTROL_*) answers 202 with a request: the demo admin, a
        second person, approves it. What remains to do is the action's answer (a code pack: download again)."""
        response = self.api.call(method, path, headers=headers, expect=(200, 201, 202), **kwargs)
        if response.status_code != 202:
            return response
        request = response.get_json()
        approved = self.api.post(f"/api/admin/approvals/{request['id']}/approve", headers=self.admin)
        self.approvals.append(request["kind"])
        if approved["status"] == "approved":  # a grant: the requester now does it, once
            return self.api.call(method, path, headers=headers, **kwargs)
        return self.api.call("GET", path.rsplit("/", 1)[0], headers=headers)

    def invited(self, app: str, who: str, invitation: dict) -> dict:
        headers = self.wx_login(app, who)
        self.api.post(f"/api/{app}/bind", headers=headers, json={"invitation_code": invitation["code"]})
        return headers

    # --- the play --------------------------------------------------------------------------------

    def run(self) -> ChainResult:
        self.step("back-office logins")
        admin, ops, marketer = self.back_office("admin"), self.back_office("ops"), self.back_office("marketer")
        self.admin, self.approvals = admin, []
        self.step("API keys")
        keys = {scope: self.api.post("/api/admin/api-keys", headers=admin, json={
            "name": f"{self.tag} {what}", "scopes": [scope]})
            for scope, what in (("production", "line L1 controller"), ("warehouse", "finished-goods PDA"))}
        try:
            self.produce(ops, line_key={"X-Api-Key": keys["production"]["key"]})
            self.ship_from_the_warehouse({"X-Api-Key": keys["warehouse"]["key"]})
        finally:
            self.step("revoke the API keys")
            for key in keys.values():
                self.api.post(f"/api/admin/api-keys/{key['id']}/revoke", headers=admin)
        self.through_the_dealers(admin)
        self.at_the_store(admin)
        self.campaign(marketer)
        self.consumers()
        if self.approvals:
            self.say(f"approved    by a second person (dual control): {', '.join(self.approvals)}")
        return self.result

    def issue(self, ops: dict, **body) -> tuple[dict, list[dict]]:
        """Issue a batch in the back office and download its code pack: the CSV rows."""
        issued = self.api.call("POST", "/api/admin/code-batches", headers=ops, expect=202,
                               json={"product_id": self.ids["product"], **body}).get_json()
        job = issued["export"]
        deadline = time.monotonic() + EXPORT_WAIT_SECONDS
        while job["status"] != "done":
            if job["status"] == "failed" or time.monotonic() > deadline:
                raise DemoChainFailed(f"demo chain, step {self.api.step!r}: code pack export {job['id']} "
                                      f"is {job['status']}")
            time.sleep(0.1)
            job = self.api.get(f"/api/admin/code-batches/exports/{job['id']}", headers=ops)
        archive = zipfile.ZipFile(io.BytesIO(self.with_approval(
            "GET", f"/api/admin/code-batches/exports/{job['id']}/download", headers=ops).data))
        rows = []
        for name in sorted(archive.namelist()):
            rows += list(csv.DictReader(io.StringIO(archive.read(name).decode())))
        return issued["batch"], rows

    def produce(self, ops: dict, *, line_key: dict) -> None:
        self.step("issue codes")
        today = datetime.now(BUSINESS_TZ).date()
        lot = self.api.post("/api/admin/production-lots", headers=ops, json={
            "external_id": f"{LOT_PREFIX}{self.n:04d}", "lot_no": f"{today:%Y%m%d}D{self.n:03d}",
            "product_id": self.ids["product"], "production_date": today.isoformat(),
            "factory_id": self.ids["factory"], "line_id": self.ids["line"], "shift": "A"})
        self.lot = lot
        self.result.facts["lot_id"] = lot["id"]
        batch, rows = self.issue(ops, level="item", count=ITEMS, hidden_code_digits=6)
        case_batch, case_rows = self.issue(ops, level="case", count=1)
        self.items = rows
        self.case = case_rows[0]["code"]
        self.result.facts.update(batch_id=batch["id"], case=self.case)
        self.say(f"issued      {len(rows)} item codes (batch {batch['batch_no']}, 6-digit hidden codes) and case "
                 f"code {self.case} (batch {case_batch['batch_no']}); code packs downloaded")
        self.result.links.append(("The chain's code batch", f"/api/admin/code-batches/{batch['id']}"))

        self.step("produce and pack on the line")
        session = self.api.post("/api/integration/line/sessions", headers=line_key, json={
            "line_id": self.ids["line"], "lot_id": lot["id"], "operator": self.tag})
        start = datetime.now(timezone.utc) - timedelta(minutes=2)
        records = [{"type": "commission", "record_id": f"{self.tag}-commission", "scanned_at": start.isoformat(),
                    "codes": [row["code"] for row in rows]}]
        records += [{"type": "pack", "record_id": f"{self.tag}-pack-{i}",
                     "scanned_at": (start + timedelta(seconds=1 + i)).isoformat(), "code": row["code"],
                     "parent": self.case} for i, row in enumerate(rows)]
        upload = self.api.post(f"/api/integration/line/sessions/{session['id']}/records", headers=line_key,
                               json={"records": records})
        if upload["rejected"]:
            raise DemoChainFailed(f"demo chain: the line refused records: {upload['results'][:3]}")
        report = self.api.post(f"/api/integration/line/sessions/{session['id']}/stop", headers=line_key)
        self.say(f"produced    {len(rows)} items of {self.names['product']} into lot {lot['lot_no']} on "
                 f"{self.names['line']}, packed into case {self.case} ({upload['accepted']} line records "
                 f"accepted, pass rate {report.get('pass_rate')})")
        self.result.links.append(("The lot's recall view", f"/api/admin/trace/lots/{lot['id']}"))

    def ship_from_the_warehouse(self, pda: dict) -> None:
        self.step("warehouse PDA: inbound from the line, outbound to the tier-1 dealer")
        at = datetime.now(timezone.utc) - timedelta(seconds=30)
        scans = self.api.post("/api/integration/warehouse/scans", headers=pda, json={"records": [
            {"record_id": f"{self.tag}-in", "scanned_at": at.isoformat(), "action": "inbound", "code": self.case,
             "warehouse_id": self.ids["warehouse"], "source": "line"},
            {"record_id": f"{self.tag}-out", "scanned_at": (at + timedelta(seconds=5)).isoformat(),
             "action": "outbound", "code": self.case, "warehouse_id": self.ids["warehouse"],
             "to_dealer_id": self.ids["tier1"]}]})
        if scans["accepted"] != 2:
            raise DemoChainFailed(f"demo chain: the warehouse refused scans: {scans['results']}")
        moved = scans["results"][1].get("units", ITEMS)
        self.say(f"shipped     {moved} items from {self.names['warehouse']} to {self.names['tier1']} "
                 f"(tier 1) by the warehouse PDA")

    def receive_as_dealer(self, headers: dict, shipper: dict) -> dict:
        pending = self.api.get("/api/dealer/receipts/pending?page_size=100", headers=headers)
        mine = [s for s in pending if (s["shipper"]["kind"], s["shipper"]["id"]) == (shipper["kind"], shipper["id"])]
        if not mine:
            raise DemoChainFailed(f"demo chain, step {self.api.step!r}: no pending shipment from {shipper}")
        shipment = max(mine, key=lambda s: s["id"])
        return self.api.post(f"/api/dealer/shipments/{shipment['id']}/receipt", headers=headers, json={})

    def dealer_ships(self, headers: dict, receiver: tuple[str, int]) -> dict:
        shipment = self.api.post("/api/dealer/shipments", headers=headers,
                                 json={"receiver_kind": receiver[0], "receiver_id": receiver[1]})
        scanned = self.api.post(f"/api/dealer/shipments/{shipment['id']}/scans", headers=headers,
                                json={"codes": [self.case]})
        if scanned["refused"]:
            raise DemoChainFailed(f"demo chain, step {self.api.step!r}: scan refused: {scanned['results']}")
        return self.api.post(f"/api/dealer/shipments/{shipment['id']}/ship", headers=headers)

    def through_the_dealers(self, admin: dict) -> None:
        self.step("tier-1 dealer signs in and receives")
        invitations = {tier: self.api.post("/api/admin/invitations", headers=admin, json={
            "kind": "dealer_member", "dealer_id": self.ids[tier], "role": "owner"}) for tier in ("tier1", "tier2")}
        t1 = self.invited("dealer", "tier1-owner", invitations["tier1"])
        received = self.receive_as_dealer(t1, {"kind": "warehouse", "id": self.ids["warehouse"]})
        self.say(f"received    {received['received']} items at {self.names['tier1']} (dealer mini-program, "
                 f"missing {received['missing']})")

        self.step("tier-1 dealer ships to the tier-2 dealer")
        shipped = self.dealer_ships(t1, ("dealer", self.ids["tier2"]))
        self.say(f"shipped     {shipped['items']} items from {self.names['tier1']} to {self.names['tier2']} (tier 2)")

        self.step("tier-2 dealer signs in, receives and ships to the store")
        t2 = self.invited("dealer", "tier2-owner", invitations["tier2"])
        received = self.receive_as_dealer(t2, {"kind": "dealer", "id": self.ids["tier1"]})
        self.say(f"received    {received['received']} items at {self.names['tier2']}")
        shipped = self.dealer_ships(t2, ("store", self.ids["store"]))
        self.say(f"shipped     {shipped['items']} items from {self.names['tier2']} to the store {self.names['store']}")

    def at_the_store(self, admin: dict) -> None:
        self.step("the store's clerk signs in and receives")
        invitation = self.api.post("/api/admin/invitations", headers=admin, json={
            "kind": "store_owner", "store_id": self.ids["store"]})
        self.clerk = clerk = self.invited("clerk", "store-owner", invitation)
        pending = self.api.get("/api/clerk/receipts/pending?page_size=100", headers=clerk)
        mine = [s for s in pending if (s["shipper_kind"], s["shipper_id"]) == ("dealer", self.ids["tier2"])]
        if not mine:
            raise DemoChainFailed(f"demo chain, step {self.api.step!r}: nothing pending at the store: {pending}")
        receipt = self.api.post(f"/api/clerk/receipts/{max(s['id'] for s in mine)}", headers=clerk, json={})
        self.say(f"received    {receipt['receipt']['received']} items at {self.names['store']} (clerk mini-program)")

        self.step("the clerk sells")
        self.sold = self.items[:SOLD]
        self.result.facts["sold"] = [row["code"] for row in self.sold]
        for row in self.sold:
            self.api.post("/api/clerk/sales", headers=clerk, json={"code": row["code"]})
        self.say(f"sold        {len(self.sold)} bottles at {self.names['store']} (clerk sale scans), e.g. "
                 f"{self.sold[0]['code']}")
        self.result.links.append(("A sold bottle's trace", f"/api/admin/trace/codes/{self.sold[0]['code']}"))
        prefix = current_app.config["LABEL_PREFIX"]
        self.result.links.append(("Its printed URL's page", f"/{prefix}/{self.sold[0]['code']}"))

    def campaign(self, marketer: dict) -> None:
        self.step("the marketer runs a campaign")
        now = datetime.now(timezone.utc)
        created = self.api.post("/api/admin/campaigns", headers=marketer, json={
            "name": f"扫码有礼 · demo play {self.n}", "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(), "total_budget_fen": 10_000,
            "daily_budget_fen": 2_000, "per_user_daily_limit": 1, "per_user_total_limit": 3,
            "hidden_code_required": True, "first_scan_only": True, "product_ids": [self.ids["product"]],
            "lot_ids": [self.lot["id"]], "prizes": [
                {"kind": "cash", "name": "微信红包 0.88 元", "amount": CASH_PRIZE_FEN, "probability_ppm": CASH_PPM,
                 "stock": 100},
                {"kind": "points", "name": f"{POINTS_PRIZE} 积分", "amount": POINTS_PRIZE,
                 "probability_ppm": POINTS_PPM}]})
        self.campaign_row = self.with_approval("POST", f"/api/admin/campaigns/{created['id']}/activate",
                                               headers=marketer).get_json()
        self.result.facts["campaign_id"] = created["id"]
        self.say(f"campaign    {self.campaign_row['name']!r} active: {CASH_PRIZE_FEN} fen cash at "
                 f"{CASH_PPM // 10_000}%, {POINTS_PRIZE} points at {POINTS_PPM // 10_000}%, lot {self.lot['lot_no']} only, budget 10,000 fen")
        self.result.links.append(("The campaign", f"/api/admin/campaigns/{created['id']}"))

    def scan(self, who: str, body: dict) -> tuple[dict, dict]:
        headers = self.wx_login("consumer", who)
        return headers, self.api.post("/api/consumer/scans", headers=headers, json=body)

    def claim(self, headers: dict, scan: dict) -> dict:
        offered = [c["id"] for c in scan.get("campaigns") or []]
        if self.campaign_row["id"] not in offered:
            raise DemoChainFailed(f"demo chain, step {self.api.step!r}: the campaign was not offered to scan "
                                  f"{scan['scan_id']} ({scan['verdict']}): {offered}")
        return self.api.post(f"/api/consumer/scans/{scan['scan_id']}/claim", headers=headers,
                             json={"campaign_id": self.campaign_row["id"]}, expect=201)

    def consumers(self) -> None:
        self.step("consumers scan")
        bottle = self.sold[0]
        a, first = self.scan("consumer-a", {"url": bottle["url"], "hidden_code": bottle["hidden_code"]})
        _, second = self.scan("consumer-b", {"code": bottle["code"], "hidden_code": bottle["hidden_code"]})
        _, forged = self.scan("consumer-c", {"url": _forged(bottle["url"])})
        facts = self.result.facts
        facts["verdicts"] = {"A": first["verdict"], "B": second["verdict"], "C": forged["verdict"]}
        self.result.links.append(("Consumer scans", "/api/admin/consumer-scans"))
        self.result.links.append(("Reports overview", "/api/admin/reports/overview"))

        self.step("consumers claim their draws")
        # Consumer A claims; more consumers buy the next bottles and claim until both prizes were won
        # (every draw wins one of them), so the summary shows a cash payout and points.
        consumers = [{"name": "A", "headers": a, "scan": first, "draw": self.claim(a, first)}]
        for number, row in enumerate(self.sold[1:], start=1):
            kinds = {(c["draw"]["prize"] or {}).get("kind") for c in consumers}
            if {"cash", "points"} <= kinds:
                break
            headers, scan = self.scan(f"consumer-{number + 3}", {"url": row["url"], "hidden_code": row["hidden_code"]})
            consumers.append({"name": f"D{number}", "headers": headers, "scan": scan,
                              "draw": self.claim(headers, scan)})
        facts["draws"] = [c["draw"] for c in consumers]
        self.pay(consumers)

        # One line per consumer: the verdict, what the draw won, where its money went.
        self.say(f"consumer A  scanned {bottle['code']}: {first['verdict']} (hidden code ok: "
                 f"{first['hidden_code']['ok']}), {self.won(consumers[0])}")
        self.say(f"consumer B  scanned the same bottle: {second['verdict']} (scan {second['scans']['count']}; "
                 f"no draw: the unit's one draw is taken)")
        self.say(f"consumer C  scanned a made-up code: {forged['verdict']}")
        more = consumers[1:]
        for consumer in more[:3] if len(more) <= 3 else more[:2]:
            self.say(f"consumer {consumer['name']} scanned the next bottle: {consumer['scan']['verdict']}, "
                     f"{self.won(consumer)}")
        if len(more) > 3:  # a long run of one prize: the rest in one line
            rest = more[2:]
            verdicts = sorted({c["scan"]["verdict"] for c in rest})
            cash = [c for c in rest if (c["draw"]["prize"] or {}).get("kind") == "cash"]
            points = [c for c in rest if (c["draw"]["prize"] or {}).get("kind") == "points"]
            statuses = sorted({c["payout"]["status"] for c in cash})
            self.say(f"consumers {rest[0]['name']}-{rest[-1]['name']} scanned {len(rest)} more bottles: "
                     f"{'/'.join(verdicts)}, {len(cash)} won {CASH_PRIZE_FEN} fen (payouts "
                     f"{'/'.join(statuses) or '-'}), {len(points)} won {POINTS_PRIZE} points")
        self.say(self.worker_line)
        campaign = self.api.get(f"/api/admin/campaigns/{self.campaign_row['id']}", headers=self.finance)
        facts["campaign_spent_fen"] = campaign["spent_fen"]
        self.say(f"campaign    spent {campaign['spent_fen']:,} fen of {campaign['total_budget_fen']:,} on "
                 f"{len(consumers)} draw(s)")

    def won(self, consumer: dict) -> str:
        draw = consumer["draw"]
        if draw["outcome"] != "won":
            return f"drew {draw['outcome']}"
        prize = draw["prize"]
        if prize["kind"] == "cash":
            payout = consumer["payout"]
            return f"won {prize['amount']} fen, payout {payout['id']} {payout['status']}"
        if prize["kind"] == "points":
            return f"won {prize['amount']} points (points balance {consumer['points']})"
        return f"won {prize['name']} (redemption {draw['redemption_id']})"

    def pay(self, consumers: list[dict]) -> None:
        """The payout worker creates the transfer bills; each winner confirms in WeChat; WeChat Pay's
        callback (the sandbox's, signed and encrypted, over loopback HTTP) marks the payout succeeded."""
        self.step("the payout worker")
        self.finance = self.back_office("finance")
        winners = [c for c in consumers if c["draw"]["payout_id"]]
        with _notify_endpoint():
            report = worker.work_due()
            worked = ", ".join(f"{n} {status}" for status, n in sorted(report.changed.items())) or "no change"
            self.step("winners confirm the transfer in WeChat")
            for consumer in winners:
                payout_id = consumer["draw"]["payout_id"]
                mine = self.api.get(f"/api/consumer/payouts/{payout_id}", headers=consumer["headers"])
                if mine["status"] != "waiting" or not mine.get("package"):
                    # Held for a person's review (a velocity rule), or already final: nothing to
                    # confirm; the summary says which.
                    continue
                bill = self.api.get(f"/api/admin/payouts/{payout_id}", headers=self.finance)["out_bill_no"]
                # wx.requestMerchantTransfer(mchId, appId, package): the user taps Confirm in WeChat.
                answer = requests.post(f"{runtime().sandbox_url()}/__sandbox__/transfers/{bill}/confirm", timeout=10)
                if answer.status_code != 200:
                    raise DemoChainFailed(f"demo chain: the sandbox refused to confirm {bill}: {answer.text}")
            self.step("WeChat Pay's callbacks")
            deadline = time.monotonic() + CALLBACK_WAIT_SECONDS
            for consumer in winners:
                payout_id = consumer["draw"]["payout_id"]
                while True:
                    payout = self.api.get(f"/api/consumer/payouts/{payout_id}", headers=consumer["headers"])
                    if payout["status"] in ("succeeded", "failed", "cancelled", "held") or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                consumer["payout"] = payout
        final = sorted(c["payout"]["status"] for c in winners)
        self.worker_line = (f"payouts     the worker created {report.claimed} transfer bill(s) ({worked}); the "
                            f"winner(s) confirmed in WeChat; WeChat Pay's signed callback(s) to {NOTIFY_PATH}: "
                            + (", ".join(f"{final.count(x)} {x}" for x in sorted(set(final))) or "none"))
        for consumer in consumers:
            if (consumer["draw"]["prize"] or {}).get("kind") == "points":
                consumer["points"] = self.api.get("/api/consumer/me/summary",
                                                  headers=consumer["headers"])["points_balance"]
        self.result.facts["payouts"] = {c["draw"]["payout_id"]: c["payout"]["status"] for c in winners}
        self.result.links += [(f"Payout {c['draw']['payout_id']}", f"/api/admin/payouts/{c['draw']['payout_id']}")
                              for c in winners[:1]]


@contextlib.contextmanager
def _notify_endpoint():
    """Serve this app on a loopback port for the play's WeChat Pay callbacks (the web server is not up
    yet while `make run` seeds), with WECHATPAY_NOTIFY_URL pointing at it; put back afterwards."""
    app = current_app._get_current_object()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="demo-notify", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}{NOTIFY_PATH}"
    before = app.config.get("WECHATPAY_NOTIFY_URL")
    app.config["WECHATPAY_NOTIFY_URL"] = url
    try:
        yield url
    finally:
        app.config["WECHATPAY_NOTIFY_URL"] = before
        server.shutdown()
        thread.join(timeout=5)
