"""Throughput and memory of the services against the broker's own ceiling (issue 4).

./recovery.sh bench            the full sizes, SQLite and PostgreSQL
./recovery.sh bench --smoke    tiny sizes: proves every case runs to completion
"""
