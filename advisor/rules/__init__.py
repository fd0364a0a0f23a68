"""Rules as data (TOML or dicts) and the engine that matches them against a failure profile.

The engine is in ``advisor.rules.engine``; the default rule set is a built-in plugin
(``advisor_plugins.rules``).
"""
