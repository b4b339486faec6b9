"""The sandbox's blueprints: the mini-program API, WeChat Pay, and sandbox controls."""

BLUEPRINTS = ()
