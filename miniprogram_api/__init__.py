"""HTTP APIs of the three WeChat mini-programs (dealer, clerk, consumer)."""

BLUEPRINTS = ()
