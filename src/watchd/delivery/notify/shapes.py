"""Webhook bodies for chat tools and a generic JSON shape. Pure.

slack       incoming webhook: {"text", "blocks": [section(mrkdwn)]}
mattermost  incoming webhook: {"text", "username"} (Slack-compatible subset)
teams       Workflows webhook: {"type": "message", "attachments": [Adaptive Card 1.4]}
json        {"schema": "watchd.notification/v1", ...}
"""

from __future__ import annotations

from typing import Any

from watchd.delivery.notify.messages import Message

FORMATS = ("slack", "mattermost", "teams", "json")
_COLOURS = {"CRITICAL": "attention", "UNKNOWN": "warning", "WARNING": "warning", "OK": "good"}


def body(fmt: str, msg: Message, event: str, facts: dict[str, Any]) -> dict[str, Any]:
    if fmt == "slack":
        return {
            "text": msg.subject,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": msg.subject[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(msg.text)[:3000]}},
            ],
        }
    if fmt == "mattermost":
        return {"text": f"**{msg.subject}**\n\n{msg.text}", "username": "watchd"}
    if fmt == "teams":
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {
                                "type": "TextBlock",
                                "text": msg.subject,
                                "weight": "Bolder",
                                "size": "Medium",
                                "wrap": True,
                                "color": _COLOURS.get(str(facts.get("state")), "default"),
                            },
                            {"type": "TextBlock", "text": msg.text, "wrap": True},
                        ],
                    },
                }
            ],
        }
    return {
        "schema": "watchd.notification/v1",
        "event": event,
        "subject": msg.subject,
        "text": msg.text,
        "facts": {k: v for k, v in facts.items() if k not in ("detail",)},
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
