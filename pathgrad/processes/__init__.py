"""Running pathgrad's processes: the embedded Redis, the Celery workers, the API server.

``pathgrad serve`` starts all three on one machine and stops them in reverse order;
``pathgrad api`` and ``pathgrad worker`` run one part for an existing Redis.
"""
