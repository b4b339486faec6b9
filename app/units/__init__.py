"""Units, their events and line sessions: commissioning, packing and the line upload."""
