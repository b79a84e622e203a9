"""The command-line tools' work, config in, files out: train, generate, evaluate (called by the root scripts)."""
