"""HTTP APIs of the three WeChat mini-programs (dealer, clerk, consumer)."""
from app.accounts.models import AppName
from miniprogram_api import clerk, clerk_retail, consumer, dealer
from miniprogram_api.auth import auth_blueprint

BLUEPRINTS = (*(auth_blueprint(app) for app in AppName), dealer.blp, clerk.blp, clerk_retail.blp, consumer.blp)
