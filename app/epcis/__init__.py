"""EPCIS 2.0: a unit's history as JSON-LD, the events query, and the capture of partners' events."""
