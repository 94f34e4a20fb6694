"""Sharing and delivery (共享与使用): requests, decisions, purpose-bound grants and the data API."""
