"""HTTP APIs of the three WeChat mini-programs (dealer, clerk, consumer)."""
from app import public_pages, resolver
from app.accounts.models import AppName
from miniprogram_api import (clerk, clerk_retail, consumer, consumer_claims, consumer_payouts, consumer_points,
                             consumer_profile, consumer_scans, dealer, dealer_channel, dealer_rebates, notices)
from miniprogram_api.auth import auth_blueprint

BLUEPRINTS = (*(auth_blueprint(app) for app in AppName), dealer.blp, dealer_channel.blp, dealer_rebates.blp,
              clerk.blp, clerk_retail.blp, consumer.blp, consumer_scans.blp, consumer_claims.blp,
              consumer_points.blp, consumer_profile.blp, *consumer_payouts.BLUEPRINTS, *notices.BLUEPRINTS,
              public_pages.blp, resolver.blp)
