"""Subscribers: outbound webhook endpoints, their admin API and their stored records."""
