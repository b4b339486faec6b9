"""EPCIS 2.0: the events query (scope epcis) and capture from partners (scope epcis_capture).

Shaped like the EPCIS 2.0 REST binding: ``GET /events`` takes SimpleEventQuery parameters and pages with
``perPage`` and ``nextPageToken`` (the next page's URL is in the ``Link`` header, rel="next"); capture is
synchronous here and answers each event.
"""
from __future__ import annotations

from urllib.parse import urlencode

import marshmallow as ma
from flask import Response, json, request
from flask_smorest import Blueprint

from app.db import transaction
from app.epcis import capture, export
from app.http import authenticate_machine, current_actor, scopes
from app.identity.models import Scope
from app.schemas import Int, UtcTime

blp = Blueprint("integration_epcis", __name__, url_prefix="/api/integration/epcis",
                description="EPCIS 2.0 JSON-LD: events query (scope epcis) and capture (scope epcis_capture).")
blp.before_request(authenticate_machine)

JSON_LD = "application/ld+json"


class Piped(ma.fields.String):
    """A list sent as one "|"-separated value (the REST binding's way), e.g. ``EQ_bizStep=shipping|receiving``."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        values = [v for v in text.split("|") if v]
        if not values or len(values) > 100 or any(len(v) > 500 for v in values):
            raise ma.ValidationError("1 to 100 values separated by |, each at most 500 characters.")
        return values


class EventsQuerySchema(ma.Schema):
    EQ_bizStep = Piped(metadata={"description": "commissioning, packing, unpacking, replacing, destroying, "
                                                "receiving, shipping, retail_selling, holding, inspecting"})
    MATCH_epc = Piped(metadata={"description": "EPC URIs: the event's epcList or childEPCs holds one"})
    MATCH_parentID = Piped(metadata={"description": "EPC URIs: an aggregation's parentID"})
    MATCH_anyEPC = Piped(metadata={"description": "EPC URIs: in epcList, childEPCs or parentID"})
    GE_eventTime = UtcTime(metadata={"description": "eventTime at or after"})
    LT_eventTime = UtcTime(metadata={"description": "eventTime before"})
    GE_recordTime = UtcTime()
    LT_recordTime = UtcTime()
    perPage = Int(validate=ma.validate.Range(min=1, max=export.MAX_PER_PAGE),
                  metadata={"description": f"Events per page (default {export.PER_PAGE})"})
    nextPageToken = ma.fields.String(validate=ma.validate.Length(max=100))


class EPCISDocumentSchema(ma.Schema):
    """An EPCIS 2.0 document (JSON-LD): validated against GS1's JSON Schema by the service."""

    class Meta:
        unknown = ma.INCLUDE

    context = ma.fields.Raw(data_key="@context", required=True)
    type = ma.fields.String(required=True, metadata={"enum": ["EPCISDocument"]})
    schemaVersion = ma.fields.String()
    creationDate = ma.fields.String()
    epcisBody = ma.fields.Dict(required=True, metadata={"description": "{eventList: [...]}"})


class EPCISQueryDocumentSchema(EPCISDocumentSchema):
    """An EPCIS 2.0 query answer: epcisBody.queryResults {queryName, resultsBody: {eventList}}."""

    type = ma.fields.String(required=True, metadata={"enum": ["EPCISQueryDocument"]})


class RejectedEpcSchema(ma.Schema):
    epc = ma.fields.String()
    tag = ma.fields.String(metadata={"description": "The RFID tag (mt:rfidTags) the refused record was binding"})
    reason = ma.fields.String()


class CaptureResultSchema(ma.Schema):
    index = Int(metadata={"description": "The event's position in the eventList"})
    eventID = ma.fields.String(attribute="event_id", metadata={
        "description": "The event's eventID, or its event hash when it had none"})
    status = ma.fields.String(metadata={"enum": ["accepted", "duplicate", "rejected"]})
    reason = ma.fields.String(allow_none=True, metadata={"enum": sorted(capture.REASONS)})
    message = ma.fields.String(allow_none=True)
    applied = Int(metadata={"description": "Records this capture applied: a commissioning is one record of all "
                                           "its EPCs, any other event one record per EPC"})
    rejected_epcs = ma.fields.List(ma.fields.Nested(RejectedEpcSchema), metadata={
        "description": "The EPCs refused, each with its reason (the event's other EPCs were applied)"})


class CaptureAnswerSchema(ma.Schema):
    accepted = Int()
    duplicate = Int()
    rejected = Int()
    results = ma.fields.List(ma.fields.Nested(CaptureResultSchema))


@blp.route("/events", methods=["GET"])
@scopes(Scope.EPCIS)
@blp.arguments(EventsQuerySchema, location="query")
@blp.response(200, EPCISQueryDocumentSchema, content_type=JSON_LD)
def query_events(query):
    """Query events (EPCIS 2.0 SimpleEventQuery): an EPCISQueryDocument; the next page in the Link header"""
    document, token = export.query_events(query=query)
    response = Response(json.dumps(document, ensure_ascii=False), mimetype=JSON_LD)
    if token:
        args = {k: v for k, v in request.args.items() if k != "nextPageToken"}
        response.headers["Link"] = f'<{request.base_url}?{urlencode({**args, "nextPageToken": token})}>; rel="next"'
        response.headers["GS1-Next-Page-Token"] = token
    return response


@blp.route("/capture", methods=["POST"])
@scopes(Scope.EPCIS_CAPTURE)
@blp.arguments(EPCISDocumentSchema)
@blp.response(200, CaptureAnswerSchema)
def capture_document(body):
    """Capture an EPCIS 2.0 document (up to 1,000 events): commissioning, packing, shipping, receiving, destroying"""
    body["@context"] = body.pop("context")
    with transaction():
        outcomes = capture.capture(actor=current_actor(), document=body)
    counts = {status: sum(1 for o in outcomes if o.status == status) for status in ("accepted", "duplicate", "rejected")}
    return {**counts, "results": outcomes}
