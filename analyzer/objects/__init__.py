"""The framework's objects in target memory: layouts, walkers, the wdfkd-shaped views as commands, and the
rules that read object state (see ARCHITECTURE.md)."""
