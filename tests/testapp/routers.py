class ReadReplicaRouter:
    """Sends every read to "replica", a copy that lags (here: never catches up)."""

    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True
