"""Built-in plugins that live outside the core (imported as ``advisor_plugins``)."""
