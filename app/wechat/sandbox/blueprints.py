"""The sandbox's blueprints: the mini-program API, WeChat Pay, and sandbox controls."""

from app.wechat.sandbox import controls, miniprogram, pay

BLUEPRINTS = (miniprogram.bp, pay.blp, controls.bp)
