"""WeCom (企业微信): access tokens, application messages, template cards, the callback and
group robots."""
