"""Channels to the outside: WeCom (企业微信) and the marketplaces (Douyin, Tmall, JD)."""
