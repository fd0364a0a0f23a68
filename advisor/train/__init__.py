"""Path 3: apply a technique to a model on a task and measure it (``advisor run``).

``technique`` is the contract technique plugins implement, ``loop`` the shared training loop,
``evaluate`` runs lm-eval on a task's local data, ``models`` resolves and loads models offline,
``tasks`` writes lm-eval task YAMLs, and ``cell`` measures one technique x model x task.
Nothing here imports torch at module level.
"""
