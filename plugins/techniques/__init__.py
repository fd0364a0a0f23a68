"""Built-in techniques, one module per family, written only against the public API
(``advisor``, ``advisor.technique``, ``advisor.training``, ``advisor.models``)."""
