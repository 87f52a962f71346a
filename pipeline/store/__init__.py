"""Durable stores: the local spool and the InfluxDB writer."""
