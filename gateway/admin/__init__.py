"""The admin API (operators and backends): integrations, subscribers, agent auth, presence."""
