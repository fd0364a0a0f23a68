"""Built-in techniques, one module per family, written only against the public API
(``advisor``, ``advisor.train.technique``, ``advisor.train.loop``, ``advisor.train.models``)."""
