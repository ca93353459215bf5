"""Durable ingest: devices publish encounters to RabbitMQ, `bordermatch worker` commits them
(docs/scale.md)."""
