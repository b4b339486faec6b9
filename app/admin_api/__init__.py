"""The back-office HTTP API (bearer tokens, role checks)."""
from app.admin_api import (api_keys, approvals, audit, auth, campaigns, channel, claims, codes, consumer_profiles, consumers,
                           diversion, exports, invitations, line_sessions, masterdata, payouts, points, production,
                           rebates, reports, retail, stock, trace, users)

BLUEPRINTS = (auth.blp, users.blp, api_keys.blp, audit.blp, *approvals.BLUEPRINTS, *masterdata.BLUEPRINTS,
              *codes.BLUEPRINTS, invitations.blp, invitations.members_blp,
              *production.BLUEPRINTS, line_sessions.blp, *trace.BLUEPRINTS, stock.blp, diversion.blp,
              *retail.BLUEPRINTS, *channel.BLUEPRINTS, *rebates.BLUEPRINTS, *payouts.BLUEPRINTS,
              *consumers.BLUEPRINTS, *campaigns.BLUEPRINTS,
              *claims.BLUEPRINTS, *points.BLUEPRINTS, *consumer_profiles.BLUEPRINTS, *reports.BLUEPRINTS, exports.blp)
