"""Marketplace intake: Douyin Shop push, Tmall workcards (TMC or polling), JD home-service
tasks (polling)."""
