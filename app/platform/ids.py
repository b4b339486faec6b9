"""Ids that clients make (record ids, request ids): what every API takes."""

# No space at either end: the database compares these ids padding spaces ("r1 " = "r1"), so an id that
# differed from another only there would be answered as that other one.
CLIENT_ID_PATTERN = r"^\S(.*\S)?$"
